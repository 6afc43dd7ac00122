"""Persian (Arabic script with its own letters and digits).

The zero-width non-joiner inside words (می‌شود) is written as a space, so compound words are
listed both ways (گفت‌وگو, گفتگو). Dates: Persian news dates Iranian events in the Solar
Hijri calendar, which does not map to Gregorian months by name; only the Gregorian month
names (used for foreign events) are listed.
"""

NAME = "Persian"

LETTERS = {"پ": "p", "چ": "ch", "ژ": "zh", "گ": "g", "ک": "k", "ی": "i", "\u200c": " "}

EVENTS = {
    "agreement": ("قرارداد", "امضا", "توافق", "موافقتنامه", "تفاهم‌نامه", "تفاهم نامه",
                  "پیمان"),
    "release": ("آزاد", "مبادله", "تبادل زندانیان"),
    "return": ("بازگشت", "بازگردانده", "برگشت"),
    "verdict": ("محکوم شد", "محکوم به", "مجرم شناخته", "تبرئه", "سال زندان", "حکم"),
    "custody": ("بازداشت موقت", "قرار بازداشت", "تمدید", "حبس "),
    "arrest": ("بازداشت", "دستگیر", "توقیف", "بازرسی", "یورش"),
    "appeal": ("تجدیدنظر", "تجدید نظر", "اعتراض به حکم", "فرجام"),
    "deport": ("اخراج", "دیپورت", "تابعیت"),
    "report": ("گزارش",),
    "talks": ("دیدار", "گفتگو", "گفت‌وگو", "گفت و گو", "مذاکره", "رایزنی", "ملاقات", "تلفنی",
              "تماس تلفنی", "سفر ", "بازدید", "نشست", "اجلاس", "فرستاده ویژه"),
    "payment": ("غرامت", "پرداخت غرامت", "پرداخت خسارت", "پرداخت شد", "خسارت"),
    "charge": ("اتهام", "متهم", "کیفرخواست", "پرونده کیفری"),
    "death": ("کشته", "جان باخت", "جان خود را از دست", "درگذشت", "مرگ ", "فوت "),
    "sale": ("فروش", "فروخت", "سهم "),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("کلنگ", "آغاز شد", "آغاز عملیات", "عملیات اجرایی",
               "افتتاح", "راه‌اندازی", "راه اندازی", "بهره‌برداری", "بهره برداری"),
    "growth": ("افزایش", "رشد", "رکورد"),
    "apology": ("عذرخواهی", "عذر خواهی", "پوزش"),
    "complaint": ("شکایت",),
    "office": ("منصوب", "انتصاب", "استعفا", "برکنار"),
    "admission": ("اعتراف", "مسئولیت را پذیرفت", "اذعان کرد"),
    "lawsuit": ("دادخواست", "دادگاه بین‌المللی", "دادگاه بین المللی", "داوری بین‌المللی"),
    "wanted": ("تحت تعقیب", "تحت پیگرد"),
    "trial": ("محاکمه", "جلسه دادگاه", "دادرسی", "تعویق"),
    "suspension": ("تعلیق شد", "توقف", "مسدود", "لغو "),
}

MONTHS = {"ژانویه": 1, "فوریه": 2, "مارس": 3, "آوریل": 4, "ژوئن": 6, "ژوئیه": 7, "اوت": 8,
          "سپتامبر": 9, "اکتبر": 10, "نوامبر": 11, "دسامبر": 12}

ANNIVERSARY = ("سالگرد", "یک سال پیش", "یک سال پس از")

# Words before the noun or verb that deny it ("بدون پذیرش", "عدم پرداخت"); the verb prefix
# "ن" is part of the word and cannot be listed.
NEGATIONS = ("بدون", "عدم", "نه")
