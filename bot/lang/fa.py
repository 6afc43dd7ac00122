"""Persian (Arabic script with its own letters and digits)."""

NAME = "Persian"

LETTERS = {"پ": "p", "چ": "ch", "ژ": "zh", "گ": "g", "ک": "k", "ی": "i", "\u200c": " "}

EVENTS = {
    "agreement": ("قرارداد", "امضا", "توافق"),
    "release": ("آزاد",),
    "arrest": ("بازداشت",),
    "report": ("گزارش",),
    "talks": ("دیدار", "گفتگو", "مذاکره"),
    "payment": ("غرامت",),
}

ANNIVERSARY = ("سالگرد",)
