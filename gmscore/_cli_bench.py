"""``gmscore bench``: a quick comparison table (work in progress)."""


def add_bench_parser(sub):
    sub.add_parser("bench", help="a quick comparison with scikit-learn / hmmlearn")


def run_bench(args):
    raise NotImplementedError
