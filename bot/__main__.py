"""`python -m bot` is the same as the `watchbot` console script."""
from bot.cli import main

main()
