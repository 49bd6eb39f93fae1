"""One module per `fastcap` subcommand; each defines `register(subparsers)`."""
