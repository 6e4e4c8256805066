"""The Admin API (Kong-compatible subset), hot reload, SIGHUP and the status/metrics views.

  routes.py    URL table                      handlers.py  what each route does
  bodies.py    JSON / form / multipart / YAML errors.py    Kong's error shapes
  entities.py  Kong entity shapes, canonical declarative document, configuration hash
  reload.py    ConfigStore: validate + compile off to the side, apply, or keep what runs
  swap.py      PlanSwitch: the atomic handler swap inside one proxy process
  control.py   admin process <-> workers channel (apply, stats)
  status.py    GET /, /status, /metrics        server.py    the listener (RequestHandler)
  runtime.py   attaching all this to serve() for one or several workers
"""
