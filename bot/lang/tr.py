"""Turkish (Latin script; İ/ı and the other letters are folded by bot.text).

Not "karar" alone for a verdict (it is any decision) nor "kabul etti" for an admission (it is
also "received", a visit, or "accepted" an offer)."""

NAME = "Turkish"

EVENTS = {
    "release": ("serbest bırak", "tahliye", "serbest kal"),
    "return": ("döndü", "geri dön"),
    "verdict": ("mahkum", "hapis cezası", "beraat", "suçlu bulun", "mahkeme karar", "hüküm ", "hükmü",
                "cezaya çarptır", "ceza aldı"),
    "custody": ("uzatıl", "uzadıl", "tutukluluk"),
    "appeal": ("itiraz", "temyiz"),
    "deport": ("sınır dışı", "vatandaşlığı"),
    "payment": ("tazminat", "ödeme"),
    "report": ("rapor",),
    "talks": ("müzakere", "görüş", "zirve", "toplantı", "ziyaret", "kabul etti", "telefon"),
    "agreement": ("anlaşma", "imzala", "mutabakat"),
    "arrest": ("tutuklan", "gözaltı"),
    "charge": ("suçla", "iddianame"),
    "death": ("hayatını kaybet", "yaşamını yitir", "öldürül", "can verdi", "ölümü"),
    "sale": ("satış ", "satışı", "satışa", "satışın", "hisse", "sattı"),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("temeli atıld", "temel atma", "inşaatına başla", "inşaatı başla",
               "açıldı", "açılış", "açılacak", "başlat", "devreye"),
    "growth": ("artış", "büyüme", "rekor"),
    "apology": ("özür",),
    "complaint": ("şikayet",),
    "office": ("atandı", "görevden alın", "görevine", "istifa et", "istifasın", "istifaya", "istifa ett"),
    "admission": ("suçu kabul", "suçunu", "sorumluluğu kabul", "itiraf"),
    "lawsuit": ("dava aç", "dava ed", "uluslararası mahkeme", "tahkim"),
    "trial": ("duruşma", "ertelendi", "yargılama"),
    "wanted": ("aranan", "yakalama kararı", "kırmızı bülten"),
    "suspension": ("askıya al", "durduruldu", "iptal ", "iptal ed", "donduruldu"),
}

MONTHS = {"ocak": 1, "şubat": 2, "mart": 3, "nisan": 4, "mayıs": 5, "haziran": 6, "temmuz": 7,
          "ağustos": 8, "eylül": 9, "ekim": 10, "kasım": 11, "aralık": 12}

ANNIVERSARY = ("yıl dönümü", "yıldönümü", "bir yıl önce")

STOPWORDS = "bu o ve ile da de ki ne için göre sonra önce artık hem ama ya bir iki üç".split()

NEGATIONS = ("olmadan", "değil", "reddetti", "yalanladı")

# Case endings on a name, as bot.lang.az explains; Turkish sets them off with an apostrophe
# ("Bakü'de", handled by bot.features), which outlets and translations often leave out.
MARKS = "ıİğĞşŞ"
NAME_ENDINGS = ("da", "de", "ta", "te", "dan", "den", "tan", "ten")
