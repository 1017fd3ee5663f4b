"""A readable HTML page of an OpenAPI document (`/docs`): served by the service itself, with no script and no
asset from elsewhere, so it works on a closed network and under a strict Content-Security-Policy."""

from __future__ import annotations

import json
from html import escape
from typing import Any

STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2430}"
    "h2{margin-top:2.5rem;border-bottom:1px solid #d0d7e0}h3{margin-bottom:.25rem}"
    ".method{display:inline-block;min-width:4rem;font:600 13px monospace;text-transform:uppercase}"
    "code,pre{font:13px/1.4 monospace;background:#f4f6f9}pre{padding:.75rem;overflow:auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #d0d7e0;padding:.25rem .5rem;text-align:left}"
)


def _ref_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rpartition("/")[2] if ref else json.dumps(schema)


def _link(schema: dict[str, Any]) -> str:
    name = _ref_name(schema)
    if "$ref" in schema:
        return f'<a href="#schema-{escape(name)}"><code>{escape(name)}</code></a>'
    return f"<code>{escape(name)}</code>"


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    parts = [f'<h3><span class="method">{escape(method)}</span> <code>{escape(path)}</code></h3>']
    parts.append(f"<p>{escape(op.get('summary', ''))}</p>")
    if op.get("description"):
        parts.append(f"<p>{escape(op['description'])}</p>")
    params = op.get("parameters", [])
    if params:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td><td>{_link(p['schema'])}</td>"
            f"<td>{escape(p.get('description', ''))}</td></tr>"
            for p in params
        )
        parts.append(f"<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>{rows}</table>")
    body = op.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        parts.append(f"<p>Body: {_link(schema)}. {escape(body.get('description', ''))}</p>")
    rows = "".join(
        f"<tr><td>{escape(status)}</td><td>{escape(answer['description'])}</td>"
        f"<td>{', '.join(_link(c['schema']) + ' ' + escape(t) for t, c in answer.get('content', {}).items())}</td></tr>"
        for status, answer in op["responses"].items()
    )
    parts.append(f"<table><tr><th>status</th><th>when</th><th>body</th></tr>{rows}</table>")
    return "\n".join(parts)


def render_docs(document: dict[str, Any]) -> str:
    info = document["info"]
    operations = [
        _operation(path, method, op) for path, methods in document["paths"].items() for method, op in methods.items()
    ]
    schemas = [
        f'<h3 id="schema-{escape(name)}">{escape(name)}</h3><pre>{escape(json.dumps(schema, indent=2))}</pre>'
        for name, schema in document["components"]["schemas"].items()
    ]
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(info['title'])} API</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(info['title'])} <small>{escape(info['version'])}</small>"
        f"</h1><p>{escape(info['description'])}</p><p>Machine-readable: <a href=openapi.json>openapi.json</a> "
        f"(OpenAPI {escape(document['openapi'])}).</p><h2>Routes</h2>{''.join(operations)}"
        f"<h2>Schemas</h2>{''.join(schemas)}</body></html>"
    )
