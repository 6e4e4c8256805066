"""The Admin API (Kong-compatible subset), hot reload, SIGHUP and the status/metrics views.

  routes.py    URL table                      handlers.py  what each route does
  bodies.py    JSON / form / multipart / YAML errors.py    Kong's error shapes
  entities.py  Kong entity shapes, canonical declarative document, configuration hash
  reload.py    ConfigStore: validate + compile off to the side, apply, or keep what runs
  control.py   admin process <-> workers channel (apply, stats)
  supervisor.py  the parent's watch over `--workers N` workers (heartbeats, restarts)
  status.py    GET /, /status, /metrics        server.py    the listener (RequestHandler)
  status_listener.py  /status, /status/ready and /metrics on their own address
  attach.py    attaching all this to jqgate.gateway.serve for one or several workers
  cli_run.py   `jqgate run`: settings -> load, compile, serve with all this attached

It imports jqgate.gateway (the configuration's routing, plans, swap and serving); nothing in
jqgate.gateway imports it: serve() receives attach.py as its `control`.
"""
