"""Every payload that crosses a process boundary, as pydantic models: HTTP bodies and answers, event data.

The house record's rules live once in `common.schema` (the rule table); the models here refer to them (the
`HouseRecord` type validates with `common.schema.validate_record` and documents itself from the same table),
so an OpenAPI document generated from these models says exactly what the services enforce.
"""
