"""Build hook only (metadata lives in pyproject.toml): ship the repository's default feed list,
watchbot.toml and watchlists/ inside the package as bot/_defaults/, so an installed watchbot
(pipx, a wheel, a container) works and `watchbot init` can copy them. The repository keeps one
copy of each file; this copies them into the build, never into the source tree."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DEFAULT_FILES = ["watchbot.toml", "feeds.opml"]
WATCHLIST_PATTERNS = ["*.yaml", "*.yml", "*.json", "README.md"]


class build_py_with_defaults(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "bot" / "_defaults"
        if target.exists():
            shutil.rmtree(target)
        (target / "watchlists").mkdir(parents=True)
        for name in DEFAULT_FILES:
            shutil.copy2(ROOT / name, target / name)
        for pattern in WATCHLIST_PATTERNS:
            for path in sorted((ROOT / "watchlists").glob(pattern)):
                shutil.copy2(path, target / "watchlists" / path.name)


setup(cmdclass={"build_py": build_py_with_defaults})
