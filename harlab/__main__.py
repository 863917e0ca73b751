from harlab.cli import main

raise SystemExit(main())
