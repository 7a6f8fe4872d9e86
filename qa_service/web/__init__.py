"""Web: the HTTP face of the service.

Owns: `app` (the Flask factory: hooks, security headers, CORS, body limits, error handlers),
`api` (the JSON routes under /api and their request validation), `errors` (`ApiError` and the JSON
error body), `openapi` (the machine-readable contract), `page` (the chat page at / and its
`static/` assets), `server` + `webserver` (`qa-service serve`: gunicorn workers running waitress),
`logsafe` (log lines that cannot be forged).

May import: qa_service.service, qa_service.qa and everything below them.
"""
