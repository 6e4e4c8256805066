"""Building and serving one gateway configuration: routing, the plan each route runs, the
processes that serve it, and swapping in a new configuration while they do.

  plans.py           every DataKit plugin instance of a configuration compiled (CompiledGateway)
  plan_selection.py  which plan runs on which route (Kong's plugin precedence), the handler
  router.py          Kong's route order, filed into the core's compiled route table
  routing.py         Gateway: routes, services and upstream balancers of one configuration
  serve.py           listeners, one process or forked workers, signals, logging
  swap.py            PlanSwitch: the atomic handler swap inside one proxy process
  reload_thread.py   the one thread that loads and compiles a new configuration off the loop
  loaded.py          jqgate.load(): the gateway's routing and plans run from Python

The Admin API, SIGHUP reload and the workers' control channel attach from jqgate.admin, which
imports this package; nothing here imports jqgate.admin.
"""
