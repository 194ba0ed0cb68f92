from rlm_bench.cli import main

raise SystemExit(main())
