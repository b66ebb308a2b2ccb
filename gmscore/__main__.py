"""Command line: ``gmscore demo`` / ``python -m gmscore demo``."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="gmscore", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="fit models on a built-in dataset and report")
    demo.add_argument("--n-samples", type=int, default=200_000,
                      help="rows of the built-in GMM dataset (default 200000)")
    demo.add_argument("--n-threads", type=int, default=None)
    demo.add_argument("--no-compare", action="store_true",
                      help="skip the scikit-learn comparison")
    sub.add_parser("config", help="print the build/runtime configuration")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        return run_demo(n_samples=args.n_samples, n_threads=args.n_threads,
                        compare=not args.no_compare)
    if args.command == "config":
        from . import show_config

        show_config()
        return 0
    parser.print_help()
    return 1


if __name__ == "__main__":
    sys.exit(main())
