"""One module per `python -m rlm_bench` command: `add_parser(sub)` declares its flags and help,
`run(args) -> int` does it. Heavy imports stay inside `run`, so `--help` starts fast."""
