"""`python -m bot` is the same as the `watchbot` console script."""
from bot.entry import main

main()
