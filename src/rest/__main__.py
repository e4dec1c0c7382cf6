from rest.cli import main

raise SystemExit(main())
