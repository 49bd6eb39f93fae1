from fastcap.cli import main

raise SystemExit(main())
