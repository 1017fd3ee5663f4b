"""The data job: landing CSVs and dbapp corrections -> validated rows in `instream/` -> `versioned/v{N}/`."""
