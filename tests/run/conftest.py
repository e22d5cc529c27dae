from run_helpers import env, server, spec_file  # noqa: F401  (fixtures shared by the runner tests)
