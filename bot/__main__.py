from bot.cli import main

# Guarded: worker processes (spawned for large knowledge-base builds) import the main
# module again, and must not run the command line.
if __name__ == "__main__":
    raise SystemExit(main())
