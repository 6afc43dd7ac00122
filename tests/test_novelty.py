"""Novelty on real multilingual items (tests/data/novelty, see PROVENANCE.md) with the shipped
baseline timeline and the real SQLite store for stories."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from bot.embed import load_embedder
from bot.features import extract, facts_to_json, name_key, translit
from bot.models import Decision, Item, Match, TermHit
from bot.novelty import NoveltyEngine
from bot.store import Store
from bot.timeline import load_timeline

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "novelty" / "items.jsonl"
ITEMS = {d["id"]: d for d in map(json.loads, DATA.read_text(encoding="utf-8").splitlines())}


def timeline():
    tl, problems = load_timeline(ROOT / "watchlists" / "timeline.yaml")
    assert not problems
    return tl


def item(key: str, **override) -> Item:
    d = {**ITEMS[key], **override} if key in ITEMS else override
    published = d["published"]
    if isinstance(published, str):
        parts = [int(p) for p in published.split("-")] + [15]
        published = datetime(parts[0], parts[1], parts[2], 12, tzinfo=timezone.utc)
    return Item(key=f"guid:{key}", feed_url=f"https://feeds.example/{d.get('outlet', 'x')}",
                title=d["title"], link=d.get("url"), summary=d.get("summary") or "",
                published=published, outlet=d.get("outlet", ""), language=d.get("language"))


def match(watchlist: str) -> list[Match]:
    return [Match(watchlist, watchlist, (TermHit("Sputnik", "name", "title", "Sputnik"),))]


class Runner:
    """The pipeline's contract in miniature: decide, store (real SQLite), then teach."""

    def __init__(self, tmp_path: Path, engine: NoveltyEngine | None = None):
        self.store = Store(tmp_path / "state.sqlite")
        self.engine = engine or NoveltyEngine(timeline(), embedder=load_embedder())

    def run(self, it: Item, watchlist: str | tuple[str, ...]) -> Decision:
        matches = [m for w in ((watchlist,) if isinstance(watchlist, str) else watchlist) for m in match(w)]
        decision = self.engine.decide(it, matches, it.published)
        story_id, _ = self.store.record_item(it, matches, decision, it.published)
        if decision.kind == "alert":
            self.engine.remember(self.store.story(story_id))
            decision = Decision(**{**decision.__dict__, "story_id": story_id})
        elif decision.kind == "update":
            self.engine.add_source(decision.story_id, it)
        return decision


def test_same_release_in_english_and_russian_is_one_alert_and_updates(tmp_path):
    """An English report of Kartavykh's release alerts; the Russian reports of it fold into it."""
    r = Runner(tmp_path)
    first = r.run(item("763eb6e302"), "sputnik_azerbaijan")
    ru = r.run(item("120949dbeb"), "sputnik_azerbaijan")
    ru2 = r.run(item("2e25e90d4f"), "sputnik_azerbaijan")
    assert first.kind == "alert"
    assert (ru.kind, ru.story_id) == ("update", first.story_id)
    assert (ru2.kind, ru2.story_id) == ("update", first.story_id)
    assert "story #" in ru.nearest


def test_release_of_another_person_a_week_later_is_a_new_alert(tmp_path):
    """Belousov's release six days after Kartavykh's is a follow-up with a new fact: new alert."""
    r = Runner(tmp_path)
    first = r.run(item("763eb6e302"), "sputnik_azerbaijan")
    second = r.run(item("dd4987b82e"), "sputnik_azerbaijan")
    folded = r.run(item("4bc2a543ed"), "sputnik_azerbaijan")
    assert first.kind == "alert" and second.kind == "alert"
    assert second.story_id != first.story_id
    assert (folded.kind, folded.story_id) == ("update", second.story_id)


def test_anniversary_recap_is_known_and_names_the_crash(tmp_path):
    """A 'годовщина' feature a year after the Aktau crash restates the baseline."""
    d = Runner(tmp_path).run(item("abb277408f"), "aktau_crash")
    assert d.kind == "known"
    assert d.nearest and d.nearest.startswith("aktau-crash")
    assert any("anniversary" in r for r in d.reasons)


def test_recap_that_dates_its_events_before_the_baseline_is_known(tmp_path):
    """A December recap of what 'в феврале' the preliminary report said is not news."""
    d = Runner(tmp_path).run(item("95995cc8ca"), "aktau_crash")
    assert (d.kind, d.step) == ("known", "restates-baseline")
    assert d.nearest.startswith("aktau-preliminary-report")


def test_item_published_before_the_as_of_date_is_known(tmp_path):
    """The July 2025 Sputnik office raid was published before the baseline's date: known."""
    d = Runner(tmp_path).run(item("3379e00aa7"), "sputnik_azerbaijan")
    assert d.kind == "known"
    assert "2025-07-05" in d.reasons[0]


def test_same_item_dated_after_the_baseline_without_new_facts_is_known(tmp_path):
    """Re-published weeks later, the raid report still restates a timeline event (named)."""
    late = item("3379e00aa7", published="2025-09-03")
    d = Runner(tmp_path).run(late, "sputnik_azerbaijan")
    assert d.kind == "known"
    assert d.nearest.startswith("sputnik-office-raid")


def test_recap_of_an_alerted_story_weeks_later_is_known(tmp_path):
    """A (synthetic) recap of the Kartavykh release three weeks on adds nothing: known, naming
    the story; an item with a new verdict at the same distance is an alert."""
    r = Runner(tmp_path)
    first = r.run(item("763eb6e302"), "sputnik_azerbaijan")
    recap = item("recap", title="Sputnik Azerbaijan executive director Igor Kartavykh was released "
                 "and sent back to Russia", summary="Kartavykh returned to Russia, Maria Zakharova said.",
                 published="2025-11-10", outlet="Synthetic")
    d = r.run(recap, "sputnik_azerbaijan")
    assert d.kind == "known"
    assert d.nearest.startswith(f"story #{first.story_id}")
    voices = item("voices", title="Kartavykh back in Russia after release from Baku custody",
                  summary="Analyst Ivan Petrovsky told Vedomosti the release of Kartavykh was expected.",
                  published="2025-11-12", outlet="Synthetic")
    assert r.run(voices, "sputnik_azerbaijan").kind == "known"  # new voices, nothing new happened
    verdict = item("verdict", title="Baku court sentences Sputnik Azerbaijan editor Belousov in absentia "
                   "to 6 years", summary="", published="2025-11-10", outlet="Synthetic")
    assert r.run(verdict, "sputnik_azerbaijan").kind == "alert"


def test_a_recap_dating_the_story_before_its_first_report_adds_no_date(tmp_path):
    """Weeks after a story, a recap that dates what it tells on or before the story's first
    report (its background) states no new date: known, naming the story."""
    r = Runner(tmp_path)
    first = r.run(item("763eb6e302"), "sputnik_azerbaijan")
    day = r.engine._stories[first.story_id].start
    recap = item("recap", title="Sputnik Azerbaijan executive director Igor Kartavykh was released "
                 "and sent back to Russia",
                 summary=f"Kartavykh returned to Russia on {day.day} {day.strftime('%B')}, "
                         "Maria Zakharova said.",
                 published="2025-11-10", outlet="Synthetic")
    d = r.run(recap, "sputnik_azerbaijan")
    assert (d.kind, d.step) == ("known", "restates-story"), d.reasons
    assert not any(f.startswith("date ") for f in d.new_facts)


def test_a_weak_event_only_the_lede_retells_is_background(tmp_path):
    """An item whose only new fact is a weak event kind in its lede (charged, as every recap
    says) restates the baseline; the same kind in the headline is a new development (step 6)."""
    r = Runner(tmp_path)
    recap = item("bg", title="Life of Russians in a Baku prison gets harder",
                 summary="They were charged with drug transit, their relatives say.",
                 published="2025-09-04", outlet="Synthetic")
    d = r.engine.decide(recap, match("diaspora_arrests"), recap.published)
    assert (d.kind, d.step, d.new_facts) == ("known", "restates-baseline", ("<charge>",)), d.reasons
    headline = item("hd", title="Russians in a Baku prison charged with drug transit", summary="",
                    published="2025-09-04", outlet="Synthetic")
    assert r.engine.decide(headline, match("diaspora_arrests"), headline.published).step == "new-development"


def test_an_opinion_retelling_dated_baseline_events_in_its_lede_is_known(tmp_path):
    """A lede that dates every event it retells on or before the baseline date restates the
    baseline even when it names kinds the nearest event lacks (died in custody); a headline
    naming such a kind is a new development (step 6) instead."""
    r = Runner(tmp_path)
    opinion = item("op", title="The Caucasus is drifting away from Moscow",
                   summary="On 27 June two brothers died in custody after a raid in Yekaterinburg. "
                           "On 1 July Baku arrested Russian citizens.",
                   published="2025-07-20", outlet="Synthetic")
    d = r.engine.decide(opinion, match("diaspora_arrests"), opinion.published)
    assert (d.kind, d.step) == ("known", "restates-baseline"), d.reasons
    told = item("hd", title="Two Azerbaijani brothers died in custody in Yekaterinburg, court told",
                summary="They died on 27 June.", published="2025-07-20", outlet="Synthetic")
    assert r.engine.decide(told, match("diaspora_arrests"), told.published).step == "new-development"


def test_arabic_report_folds_into_turkish_report_of_the_same_day(tmp_path):
    """An Arabic report (no capitals to find names in) of the trilateral meeting announced the
    same day in Turkish folds into it instead of alerting again."""
    r = Runner(tmp_path)
    tr = r.run(item("e4a55bae52"), "north_south")
    ar = r.run(item("9d2bc84349"), "north_south")
    assert tr.kind == "alert"
    assert (ar.kind, ar.story_id) == ("update", tr.story_id)


def test_no_match_is_ignored_and_decide_does_not_change_state(tmp_path):
    """decide() alone teaches nothing: deciding twice gives the same alert, and no watchlist
    means ignored."""
    engine = NoveltyEngine(timeline())
    it = item("763eb6e302")
    a = engine.decide(it, match("sputnik_azerbaijan"), it.published)
    b = engine.decide(it, match("sputnik_azerbaijan"), it.published)
    assert a.kind == b.kind == "alert"
    assert engine.decide(it, [], it.published).kind == "ignored"


def test_signature_is_json_and_restart_gives_the_same_decisions(tmp_path):
    """Stories reloaded from the SQLite store after a restart decide the next items as before."""
    r = Runner(tmp_path)
    first = r.run(item("763eb6e302"), "sputnik_azerbaijan")
    r.run(item("120949dbeb"), "sputnik_azerbaijan")
    json.dumps(r.store.story(first.story_id).signature)
    later = [item("2e25e90d4f"), item("dd4987b82e")]
    before = [r.engine.decide(it, match("sputnik_azerbaijan"), it.published) for it in later]
    restarted = NoveltyEngine(timeline())
    restarted.load(r.store.stories())
    after = [restarted.decide(it, match("sputnik_azerbaijan"), it.published) for it in later]
    assert [(d.kind, d.story_id) for d in after] == [(d.kind, d.story_id) for d in before]
    assert after[0].kind == "update"


def test_old_stories_leave_the_comparison_index(tmp_path):
    """Stories older than the index window (relative to the newest) are no longer compared."""
    engine = NoveltyEngine(timeline(), index_window_days=30)
    r = Runner(tmp_path, engine)
    first = r.run(item("763eb6e302"), "sputnik_azerbaijan")
    assert first.story_id in engine._stories
    r.run(item("later", title="Rosatom sells 49% of Akkuyu to Cengiz and Kalyon for $3 billion",
               summary="", published="2026-01-20", outlet="Synthetic"), "akkuyu")
    assert first.story_id not in engine._stories


@pytest.mark.parametrize("a,b", [("Картавых", "Kartavykh"), ("Kartavıxın", "Kartavykh"),
                                 ("Белоусовым", "Belousov"), ("Захарова", "Zakharova"),
                                 ("Hacıyev", "Hajiyev"), ("Москву", "Moscow"),
                                 ("Overçuk", "Оверчук"), ("Çavuşoğlu", "Чавушоглу")])
def test_one_name_one_key_across_scripts(a, b):
    """Transliteration and the consonant key make one name one key across scripts and endings."""
    assert name_key(translit(a)) == name_key(translit(b))


def test_facts_of_a_russian_lede():
    """Names, event kinds and date mentions are found in a Russian lede."""
    f = extract("Картавых освобождён и направляется в Россию",
                "Исполнительный директор агентства Игорь Картавых освобождён; "
                "10 октября его перевели под домашний арест.", date(2025, 10, 19))
    assert name_key(translit("Kartavykh")) in f.names
    assert "release" in f.title_kinds
    assert (date(2025, 10, 10), date(2025, 10, 10)) in f.dates
    assert "10" not in f.numbers  # a day of the month is a date, not a number


def test_a_story_is_compared_with_its_folded_reports_also_after_a_restart(tmp_path):
    """Updates store their vector; a restarted engine compares new items with every stored report
    of a story, as the running one did, and gives the same decisions."""
    r = Runner(tmp_path)
    first = r.run(item("763eb6e302"), "sputnik_azerbaijan")
    ru = r.run(item("120949dbeb"), "sputnik_azerbaijan")
    assert (first.kind, ru.kind) == ("alert", "update")
    story = r.store.story(first.story_id)
    assert [s.signature is not None and "emb" in s.signature for s in story.sources] == [False, True]
    restarted = NoveltyEngine(timeline(), embedder=load_embedder())
    restarted.load(r.store.stories())
    assert len(restarted._stories[first.story_id].source_embs) == 1
    later = item("2e25e90d4f")
    live = r.engine.decide(later, match("sputnik_azerbaijan"), later.published)
    again = restarted.decide(later, match("sputnik_azerbaijan"), later.published)
    assert (again.kind, again.story_id, again.score) == (live.kind, live.story_id, live.score)


def test_a_story_loaded_with_its_stored_headline_facts_equals_one_whose_headlines_are_extracted(tmp_path):
    """The headline facts a story and its updates store (signature "fold") give the story the
    same names, numbers and event kinds as extracting its reports' headlines at load time."""
    from dataclasses import replace

    r = Runner(tmp_path)
    first = r.run(item("763eb6e302"), "sputnik_azerbaijan")
    assert r.run(item("120949dbeb"), "sputnik_azerbaijan").kind == "update"
    story = r.store.story(first.story_id)
    assert "fold" in story.signature and "fold" in story.sources[1].signature
    unstored = replace(story, signature={k: v for k, v in story.signature.items() if k != "fold"},
                       sources=tuple(replace(s, signature=s.signature and {
                           k: v for k, v in s.signature.items() if k != "fold"})
                           for s in story.sources))
    stored, extracted = r.engine._story_ref(story), r.engine._story_ref(unstored)
    assert (stored.names, stored.numbers, stored.kinds, stored.words) == \
        (extracted.names, extracted.numbers, extracted.kinds, extracted.words)
    assert stored.names and stored.kinds
    # And loading reads them: a stored fold naming someone else gives the story that name.
    other = facts_to_json(extract("Police in Baku detained Zyxwomir Plakhotnyuk on 12 counts", "", date(2025, 10, 1)))
    tampered = replace(story, signature={**story.signature, "fold": other})
    assert set(r.engine._story_ref(tampered).names) - set(stored.names)


def test_a_state_folder_from_before_update_vectors_gains_the_column(tmp_path):
    """A database whose items table predates the signature column is upgraded in place."""
    import sqlite3

    db = tmp_path / "old.sqlite"
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE items DROP COLUMN signature")
    con.commit()
    con.close()
    store = Store(db)
    cols = {r[1] for r in store.db.execute("PRAGMA table_info(items)")}
    store.close()
    assert "signature" in cols


def test_a_release_the_day_after_a_custody_ruling_is_not_folded_into_it(tmp_path):
    """A headline with a strong event kind that no report of a recent story stated (released,
    a day after 'custody extended') starts its own story, however similar the wording."""
    r = Runner(tmp_path)
    arrest = item("a", title="Baku court extends custody of Sputnik Azerbaijan editor Yevgeny Belousov "
                  "by 3 months", summary="", published="2025-10-20", outlet="Synthetic")
    release = item("b", title="Sputnik Azerbaijan editor Yevgeny Belousov released from custody in Baku",
                   summary="", published="2025-10-21", outlet="Synthetic")
    first, second = r.run(arrest, "sputnik_azerbaijan"), r.run(release, "sputnik_azerbaijan")
    assert first.kind == "alert"
    assert second.kind == "alert" and second.story_id != first.story_id, second.reasons


def test_loading_a_story_stored_without_a_vector_embeds_nothing(tmp_path):
    """Start-up never embeds: a story stored without a vector is compared lexically instead."""
    r = Runner(tmp_path, NoveltyEngine(timeline()))  # lexical engine: its stories carry no vector
    first = r.run(item("763eb6e302"), "sputnik_azerbaijan")
    assert "emb" not in r.store.story(first.story_id).signature

    class Counting:
        calls = 0

        def __init__(self, inner):
            self.inner = inner

        def vectors(self, texts, persist=False):
            Counting.calls += len(texts)
            return self.inner.vectors(texts, persist)

        def vector(self, text):
            return self.vectors([text])[0]

    engine = NoveltyEngine(timeline(), embedder=Counting(load_embedder()))
    engine.load(r.store.stories())
    assert Counting.calls == 0 and engine._stories[first.story_id].emb is None


def test_step_six_alerts_on_a_new_fact_with_no_fitted_alert_model(tmp_path):
    """The shipped model holds only the update model; an item adding a new strong event kind
    reaches step 6, which alerts without a fitted score and names the new fact."""
    from bot.novelty_model import load_model

    model = load_model("lexical")
    assert not hasattr(model, "alert")
    engine = NoveltyEngine(timeline(), model=model)
    it = item("x", title="Baku court sentences Sputnik Azerbaijan editor Yevgeny Belousov to 6 years",
              summary="", published="2025-11-10", outlet="Synthetic")
    d = engine.decide(it, match("sputnik_azerbaijan"), it.published)
    assert (d.kind, d.step, d.score) == ("alert", "new-development", None), d.reasons
    assert "<verdict>" in d.new_facts


def test_a_statement_repeated_weeks_later_is_new_and_a_plain_recap_is_not(tmp_path):
    """A quote headed by its speaker, said again weeks after the story (same demand, another
    occasion), is a new statement; the same words without a speaker heading restate the story."""
    r = Runner(tmp_path)
    first = r.run(item("s1", title="Lavrov: Baku should free the detained Russians to mend relations",
                       summary="Sergey Lavrov said Azerbaijan should release the detained Russian citizens.",
                       published="2025-08-01", outlet="Synthetic"), "diaspora_arrests")
    assert first.kind == "alert", first.reasons
    again = item("s2", title="Lavrov: Baku must free the detained Russians if it wants normal relations",
                 summary="Sergey Lavrov said at the Valdai forum that Azerbaijan should release the "
                         "detained Russian citizens.", published="2025-09-10", outlet="Synthetic")
    d = r.engine.decide(again, match("diaspora_arrests"), again.published)
    assert (d.kind, d.step) == ("alert", "new-development"), d.reasons
    recap = item("s3", title="Baku should free the detained Russians to mend relations, Lavrov said",
                 summary="Sergey Lavrov said Azerbaijan should release the detained Russian citizens.",
                 published="2025-09-10", outlet="Synthetic")
    d = r.engine.decide(recap, match("diaspora_arrests"), recap.published)
    assert (d.kind, d.step) == ("known", "restates-story"), d.reasons


@pytest.mark.parametrize("title,speaker", [
    ("Захарова: Баку должен освободить россиян", True), ("Дмитрий Песков: Москва ждёт", True),
    ("زاخاروفا: الإفراج عن رئيس مكتب", True), ("Год после трагедии: крушение помнят", False),
    ("Baku frees two Russians", False)])
def test_a_headline_opened_by_who_speaks_is_a_statement(title, speaker):
    """One to three capitalised words (or one caseless word) and a colon open a quote headline."""
    assert extract(title, "", date(2025, 9, 1)).speaker is speaker


def test_a_same_day_report_whose_lede_adds_strong_events_is_not_folded(tmp_path):
    """A same-day item worded like a recent story whose lede states strong event kinds no report
    of the story states (growth, a payment) is weighed by the update model as another
    development; the same headline with a lede retelling the story folds into it."""
    r = Runner(tmp_path)
    first = r.run(item("a", title="Iran and Russia discuss Rasht-Astara railway construction in Tehran",
                       summary="Officials of the two countries met in Tehran to discuss the railway line.",
                       published="2025-11-20", outlet="Synthetic"), "north_south")
    assert first.kind == "alert"
    title = "Rasht-Astara railway: Tehran talks on the North-South route"
    adds = item("b", title=title, summary="Cargo on the corridor grew by 40 percent this year; Russia "
                "paid the first tranche of the loan for the line.", published="2025-11-20", outlet="Synthetic")
    d = r.engine.decide(adds, match("north_south"), adds.published)
    assert d.kind == "alert", d.reasons
    retells = item("c", title=title, summary="Officials met in Tehran to discuss the line.",
                   published="2025-11-20", outlet="Synthetic")
    d = r.engine.decide(retells, match("north_south"), retells.published)
    assert (d.kind, d.story_id) == ("update", first.story_id), d.reasons


def test_the_fitted_threshold_sits_where_the_training_cost_stays_low():
    """The update threshold is taken where the training cost is low around it, not at a lone
    dip that one training item makes (the cost curve of fold 1 of the dev sample)."""
    from bot.novelty_model import steady_threshold
    grid = [0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90]
    costs = [4.0, 4.5, 2.5, 2.5, 2.5, 3.5, 2.0, 3.5, 3.5]
    assert steady_threshold(grid, costs) == 0.65
    # A flat minimum is kept at its lowest threshold, the ends of the grid count too.
    assert steady_threshold([0.1, 0.2, 0.3], [0.0, 0.0, 1.0]) == 0.1
    with pytest.raises(ValueError):
        steady_threshold([0.1, 0.2], [1.0])


def test_a_turkish_dava_report_folds_into_a_story_of_charges(tmp_path):
    """A Turkish report that a case was brought ("dava açtı": charge and lawsuit are one word)
    the day after a story of charges folds into it instead of alerting again."""
    r = Runner(tmp_path)
    charged = item("a", title="Russia charges Colonel Viktor Sarkisov over the downing of the AZAL airliner",
                   summary="Military investigators charged air defence commander Viktor Sarkisov over "
                           "the Aktau crash.",
                   published="2025-11-12", outlet="Synthetic")
    dava = item("b", title="Rusya, AZAL uçağını vuran hava savunma komutanı Sarkisov'a dava açtı",
                summary="Rus askeri savcılığı, Aktau yakınlarında düşen AZAL uçağı nedeniyle hava "
                        "savunma komutanı Viktor Sarkisov'a dava açtı.", published="2025-11-13", outlet="Synthetic")
    first, second = r.run(charged, "aktau_crash"), r.run(dava, "aktau_crash")
    assert first.kind == "alert"
    assert (second.kind, second.story_id) == ("update", first.story_id), second.reasons


def test_a_signed_akkuyu_stake_deal_is_new_against_a_baseline_that_only_recalls_an_old_agreement(tmp_path):
    """The baseline says Rosatom intends to sell its stake "as the 2010 intergovernmental
    agreement allows": that agreement is background, so a framework agreement signed for the
    stake is a new development, not a restatement."""
    r = Runner(tmp_path)
    deal = item("a", title="Akkuyu'da yüzde 49'luk hisse için çerçeve anlaşma imzalandı",
                summary="Rosatom ile Türk enerji şirketleri arasında Akkuyu hissesinin devrine ilişkin "
                        "çerçeve anlaşma imzalandı.", published="2025-12-16", outlet="Synthetic")
    assert r.run(deal, "akkuyu").kind == "alert"


def test_an_explainer_whose_lede_retells_several_baseline_events_is_known(tmp_path):
    """A recap after the baseline date whose lede tells the crash and then Putin's apology (two
    baseline events) restates the baseline, though the event nearest to it lacks the apology."""
    r = Runner(tmp_path)
    recap = item("a", title="Bakou-Moscou : le crash de l'Embraer, plaie ouverte entre les deux capitales",
                 summary="Six mois après la catastrophe du vol Bakou-Grozny, abattu par la défense "
                         "antiaérienne russe et écrasé près d'Aktau, Bakou attend toujours. Ilham Aliev "
                         "n'a pas digéré les simples excuses de Vladimir Poutine.",
                 published="2025-07-08", outlet="Synthetic")
    d = r.run(recap, "aktau_crash")
    assert d.kind == "known", d.reasons


def test_a_story_of_two_watchlists_takes_reports_matching_either(tmp_path):
    """A release first reported in words that match two watchlists (diaspora arrests and
    Sputnik Azerbaijan) becomes one story that a later report matching only the second folds
    into, also after a restart (the story stores every watchlist its first report matched)."""
    r = Runner(tmp_path)
    first = r.run(item("a", title="Sputnik Azərbaycanın direktoru İqor Kartavıx həbsdən azad edilib",
                       summary="Bakıda həbs olunan Rusiya vətəndaşı İqor Kartavıx azad edilib.",
                       published="2025-10-16", outlet="Synthetic"), ("diaspora_arrests", "sputnik_azerbaijan"))
    assert first.kind == "alert" and first.watchlist == "diaspora_arrests"
    restarted = Runner(tmp_path)  # the same state file, a fresh engine
    restarted.engine.load(r.store.stories(datetime(2025, 1, 1, tzinfo=timezone.utc)))
    later = restarted.run(item("b", title="Baku frees Sputnik Azerbaijan director Igor Kartavykh",
                               summary="Igor Kartavykh, executive director of Sputnik Azerbaijan, was released.",
                               published="2025-10-17", outlet="Synthetic"), "sputnik_azerbaijan")
    assert (later.kind, later.story_id, later.watchlist) == ("update", first.story_id, "sputnik_azerbaijan"), later.reasons


def test_a_homecoming_and_a_release_reported_a_day_apart_are_one_development(tmp_path):
    """"Kartavykh and Belousov are back in Moscow" and, a day later, "Baku has freed the Russian
    staff of Sputnik Azerbaijan" tell one development: release and return are one family, so the
    second headline's kind does not conflict with the first's."""
    r = Runner(tmp_path)
    home = item("a", title="Картавых и Белоусов вернулись в Москву",
                summary="Сотрудники Sputnik Азербайджан Игорь Картавых и Евгений Белоусов прилетели "
                        "в Москву из Баку.", published="2025-12-05", outlet="Synthetic")
    freed = item("b", title="Baku frees the Russian staff of Sputnik Azerbaijan",
                 summary="Igor Kartavykh and Yevgeny Belousov, the Russian employees of Sputnik "
                         "Azerbaijan, were released.", published="2025-12-06",
                 outlet="Synthetic")
    first, second = r.run(home, "sputnik_azerbaijan"), r.run(freed, "sputnik_azerbaijan")
    assert first.kind == "alert"
    assert (second.kind, second.story_id) == ("update", first.story_id), second.reasons
