"""`python -m course_lib.data [--data-dir DIR]`: fetch the corpora with nltk.download if missing."""
import argparse
import sys

from course_lib.data.corpus import CorpusNotFoundError, default_data_dir, fetch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.data", description=__doc__)
    parser.add_argument("--data-dir", default=None,
                        help=f"NLTK data directory (default: $COURSE_DATA_DIR or {default_data_dir()})")
    args = parser.parse_args(argv)
    try:
        fetch(args.data_dir)
    except CorpusNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
