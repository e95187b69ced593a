"""``python -m tdlib notebooks --profile smoke``: execute every book page with papermill."""
HELP = "execute the book's notebooks (book/*.md) with papermill at a profile, into --out"


def add_arguments(p):
    p.add_argument("pages", nargs="*", help="pages to run (default: every notebook in book/)")
    p.add_argument("--profile", default="smoke", help="value of each page's `profile` parameter")
    p.add_argument("--out", default="_build/papermill", help="folder for the executed .ipynb files")
    p.add_argument("-p", "--param", action="append", default=[], nargs=2, metavar=("NAME", "VALUE"),
                   help="another parameter (value parsed as a Python literal when possible)")


def main(args):
    from ..notebooks import run_notebooks
    extra = {}
    import ast
    for name, value in args.param:
        try:
            extra[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            extra[name] = value
    failed = run_notebooks(args.pages or None, out=args.out, parameters={"profile": args.profile, **extra})
    return 1 if failed else 0
