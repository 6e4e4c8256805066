"""Compiled plan modules: each DataKit plan as an importable extension module (`jqgate build`).

    build.build_plan_modules(compiled, DIR)   generate and compile, one module per plan
    loading.install_plan_modules(DIR)         `jqgate run --plan-modules DIR` / serve(plan_modules=)
    import <module>; module.run(request)      embedding (bind.py)
"""
