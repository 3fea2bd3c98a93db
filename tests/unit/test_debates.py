"""Turns, outcomes and the scripted demo council."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta

import pytest

from backend.debates import (
    DEFAULT_PERSONAS,
    DEMO_TOPICS,
    ChatCompletionsRunner,
    CommandRunner,
    DebateOutcome,
    DebateRunner,
    DemoCouncil,
    Persona,
    Turn,
    mask_secret,
    parse_reply,
    parse_turn_line,
    pick_topic,
    runner_from_settings,
    summarize,
)
from backend.errors import ConfigError, DebateFailed
from backend.timeutil import UTC

START = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
TOPIC = "Universal basic income should replace most means-tested benefits"


def turn(speaker: str, stance: str, *, round: int = 1, confidence: float = 0.5, text: str = "x") -> Turn:
    return Turn(speaker, text, stance, confidence, START + timedelta(minutes=round), round)


def demo_turns(debate_id: str = "debate_1", topic: str = TOPIC, **options: object) -> list[Turn]:
    council = DemoCouncil(turn_seconds=0, **options)  # type: ignore[arg-type]
    return list(council.turns(topic, debate_id=debate_id, cancel=threading.Event()))


# --- Turn and DebateOutcome documents ---------------------------------------------------------


def test_turn_round_trips_through_a_json_document() -> None:
    original = turn("Ada", "for", round=2, confidence=0.75, text="Yes, because...")
    doc = json.loads(json.dumps(original.to_doc()))
    assert doc["time"] == "2026-06-15T08:02:00+00:00"
    assert Turn.from_doc(doc) == original


@pytest.mark.parametrize("field, value, message", [
    ("stance", "maybe", "stance must be one of for, against, undecided"),
    ("confidence", 1.5, "confidence must be a number 0-1"),
    ("round", 0, "round must be a whole number from 1"),
    ("speaker", "  ", "speaker must be non-empty"),
])
def test_turn_rejects_values_out_of_range(field: str, value: object, message: str) -> None:
    doc = {**turn("Ada", "for").to_doc(), field: value}
    with pytest.raises(ConfigError, match=message):
        Turn.from_doc(doc)


def test_turn_from_doc_names_the_fields_it_needs() -> None:
    with pytest.raises(ConfigError, match="a turn needs speaker, text, stance"):
        Turn.from_doc({"speaker": "Ada"})


# --- summarize ----------------------------------------------------------------------------------


def test_summarize_counts_averages_and_final_majority() -> None:
    turns = [
        turn("Ada", "for", confidence=0.8, text="aaaa"),
        turn("Bo", "against", confidence=0.6, text="bb"),
        turn("Cy", "undecided", confidence=0.4, text="cccccc"),
        turn("Ada", "for", round=2, confidence=0.9, text="aaaa"),
        turn("Bo", "for", round=2, confidence=0.7, text="bb"),
        turn("Cy", "against", round=2, confidence=0.5, text="cccccc"),
    ]
    outcome = summarize(turns)
    assert (outcome.participants, outcome.rounds, outcome.responses) == (3, 2, 6)
    assert outcome.avg_response_length == pytest.approx(4.0)
    assert outcome.avg_confidence == pytest.approx(3.9 / 6)
    assert outcome.verdict == "for"  # final: for, for, against
    assert outcome.consensus_level == pytest.approx(2 / 3)
    assert outcome.controversy_score == pytest.approx(1 - 1 / 5)  # 3 for, 2 against over all turns


def test_an_even_split_is_a_split_verdict_at_full_controversy() -> None:
    outcome = summarize([turn("Ada", "for"), turn("Bo", "against")])
    assert outcome.verdict == "split"
    assert outcome.consensus_level == pytest.approx(0.5)
    assert outcome.controversy_score == pytest.approx(1.0)


def test_a_unanimous_debate_has_full_consensus_and_no_controversy() -> None:
    outcome = summarize([turn("Ada", "against"), turn("Bo", "against"), turn("Cy", "against")])
    assert (outcome.verdict, outcome.consensus_level, outcome.controversy_score) == ("against", 1.0, 0.0)


def test_an_undecided_council_has_no_majority_and_no_controversy() -> None:
    outcome = summarize([turn("Ada", "undecided"), turn("Bo", "undecided")])
    assert (outcome.verdict, outcome.consensus_level, outcome.controversy_score) == ("split", 0.0, 0.0)


def test_a_final_round_cut_short_keeps_the_silent_speakers_last_stance() -> None:
    turns = [turn("Ada", "for"), turn("Bo", "against"), turn("Cy", "against"),
             turn("Ada", "against", round=2)]
    outcome = summarize(turns)
    assert (outcome.verdict, outcome.consensus_level) == ("against", 1.0)


def test_summarize_of_no_turns_fails_with_a_reason() -> None:
    with pytest.raises(DebateFailed, match="the debate produced no turns"):
        summarize([])


def test_outcome_document_is_json_safe() -> None:
    doc = summarize([turn("Ada", "for"), turn("Bo", "for")]).to_doc()
    assert json.loads(json.dumps(doc)) == doc
    assert set(doc) == {f for f in DebateOutcome.__dataclass_fields__}


# --- DemoCouncil ---------------------------------------------------------------------------------


def test_the_demo_council_is_a_debate_runner() -> None:
    assert isinstance(DemoCouncil(), DebateRunner)
    assert len(DEFAULT_PERSONAS) == 4
    assert len({p.name for p in DEFAULT_PERSONAS}) == 4


def test_same_debate_id_and_topic_give_the_same_transcript() -> None:
    first, second = demo_turns("debate_a"), demo_turns("debate_a")
    assert [(t.speaker, t.text, t.stance, t.confidence, t.round) for t in first] == \
           [(t.speaker, t.text, t.stance, t.confidence, t.round) for t in second]


def test_another_debate_id_gives_another_transcript() -> None:
    assert [t.text for t in demo_turns("debate_a")] != [t.text for t in demo_turns("debate_b")]


def test_every_persona_speaks_once_in_every_round() -> None:
    turns = demo_turns(rounds=3)
    assert len(turns) == 3 * len(DEFAULT_PERSONAS)
    names = sorted(p.name for p in DEFAULT_PERSONAS)
    for round_no in (1, 2, 3):
        assert sorted(t.speaker for t in turns if t.round == round_no) == names
    assert [t.round for t in turns] == sorted(t.round for t in turns)


def test_demo_turns_are_valid_and_about_the_topic() -> None:
    topic = "Cities should make public transport free at the point of use"
    for turn_ in demo_turns("debate_x", topic):
        assert turn_.stance in ("for", "against", "undecided")
        assert 0.4 <= turn_.confidence <= 0.95
        assert topic in turn_.text
        assert turn_.time.tzinfo is not None


def test_later_rounds_answer_the_previous_speaker_and_the_last_round_closes() -> None:
    turns = demo_turns(rounds=3)
    for before, after in zip(turns, turns[1:]):
        if after.round > 1:
            assert before.speaker in after.text
            assert before.speaker != after.speaker
    assert all(t.text.startswith("To close") for t in turns if t.round == 3)


def test_personas_can_be_persuaded_between_rounds() -> None:
    def shifted(debate_id: str) -> bool:
        stances: dict[str, set[str]] = {}
        for turn_ in demo_turns(debate_id):
            stances.setdefault(turn_.speaker, set()).add(turn_.stance)
        return any(len(seen) > 1 for seen in stances.values())

    assert any(shifted(f"debate_{n}") for n in range(20))


def test_demo_turn_times_come_from_the_clock() -> None:
    council = DemoCouncil(turn_seconds=0, rounds=1, clock=lambda: START)
    turns = list(council.turns(TOPIC, debate_id="d", cancel=threading.Event()))
    assert {t.time for t in turns} == {START}


def test_a_cancel_set_after_two_turns_stops_the_council() -> None:
    cancel = threading.Event()
    spoken = []
    for turn_ in DemoCouncil(turn_seconds=0).turns(TOPIC, debate_id="d", cancel=cancel):
        spoken.append(turn_)
        if len(spoken) == 2:
            cancel.set()
    assert len(spoken) == 2


def test_a_cancel_during_the_pause_ends_the_council_promptly() -> None:
    cancel = threading.Event()
    turns = DemoCouncil(turn_seconds=5).turns(TOPIC, debate_id="d", cancel=cancel)
    started = time.monotonic()
    next(turns)
    assert time.monotonic() - started < 1.0  # the first turn comes right away
    set_at: list[float] = []

    def cancel_soon() -> None:  # another thread, while the council pauses before its 2nd turn
        time.sleep(0.2)
        set_at.append(time.monotonic())
        cancel.set()

    setter = threading.Thread(target=cancel_soon)
    setter.start()
    with pytest.raises(StopIteration):
        next(turns)
    assert time.monotonic() - set_at[0] < 1.0
    setter.join()


def test_a_council_cancelled_before_it_starts_says_nothing() -> None:
    cancel = threading.Event()
    cancel.set()
    assert list(DemoCouncil(turn_seconds=0).turns(TOPIC, debate_id="d", cancel=cancel)) == []


@pytest.mark.parametrize("options, message", [
    ({"rounds": 0}, "rounds must be a whole number 1-20"),
    ({"turn_seconds": -1}, "turn_seconds must be a number 0 or more"),
    ({"personas": DEFAULT_PERSONAS[:1]}, "at least 2 personas"),
    ({"personas": (Persona("A", "r", "v", "maybe"), Persona("B", "r", "v", "for"))}, "leaning must be"),
])
def test_demo_council_rejects_bad_settings(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DemoCouncil(**options)


# --- topics and runner choice ------------------------------------------------------------------


def test_demo_topics_rotate() -> None:
    assert 15 <= len(DEMO_TOPICS) == len(set(DEMO_TOPICS))
    used: list[str] = []
    for _ in range(len(DEMO_TOPICS)):
        used.append(pick_topic(used))
    assert used == list(DEMO_TOPICS)
    assert pick_topic(used + [DEMO_TOPICS[0]]) == DEMO_TOPICS[1]  # least recently used


def test_runner_from_settings_prefers_llm_then_command_then_demo() -> None:
    llm = runner_from_settings(turn_seconds=7, llm_url="http://localhost:11434/v1", llm_model=None,
                               llm_api_key=None, command="python council.py")
    assert isinstance(llm, ChatCompletionsRunner) and llm.model == "llama3.2"
    command = runner_from_settings(turn_seconds=7, llm_url=" ", llm_model="m", llm_api_key=None,
                                   command="python council.py --fast")
    assert isinstance(command, CommandRunner) and command.argv == ["python", "council.py", "--fast"]
    demo = runner_from_settings(turn_seconds=7, llm_url=None, llm_model=None, llm_api_key=None, command="")
    assert isinstance(demo, DemoCouncil) and demo.turn_seconds == 7


# --- secrets, replies and command lines -----------------------------------------------------------


def test_secrets_are_masked() -> None:
    assert mask_secret("sk-proj-abcdefghijklmnop") == "sk-p****mnop"
    assert mask_secret("short-key") == "****"
    runner = ChatCompletionsRunner("http://127.0.0.1:1/v1", "llama3.2", api_key="sk-proj-abcdefghijklmnop")
    assert "abcdefghijklmnop" not in repr(runner) and "sk-p****mnop" in repr(runner)


@pytest.mark.parametrize("content, expected", [
    ('{"stance": "for", "confidence": 0.8, "text": "Yes."}', ("for", 0.8, "Yes.")),
    ('Here you go:\n```json\n{"stance": "Against", "confidence": "0.7", "text": "No."}\n```',
     ("against", 0.7, "No.")),
    ('Sure! {"stance": "neutral", "confidence": 85, "text": "Hm."} Hope that helps.',
     ("undecided", 0.85, "Hm.")),
    ('{"stance": "for", "argument": "Named differently."}', ("for", 0.5, "Named differently.")),
    ("Plain prose with no JSON at all.", ("undecided", 0.5, "Plain prose with no JSON at all.")),
])
def test_model_replies_are_read_leniently(content: str, expected: tuple) -> None:
    assert parse_reply(content) == expected


def test_a_command_line_fills_in_defaults_and_clamps_confidence() -> None:
    parsed = parse_turn_line(b'{"speaker": "Ada", "text": "Hi", "confidence": 1.7}\n', 1, START)
    assert parsed == Turn("Ada", "Hi", "undecided", 1.0, START, 1)
    assert parse_turn_line(b"   \n", 2, START) is None


@pytest.mark.parametrize("line, message", [
    ("not json", "line 4 is not JSON"),
    ("[1, 2]", "line 4 is not a JSON object"),
    ('{"speaker": "Ada", "text": "Hi", "stance": "sideways"}',
     "line 4 has a bad field: stance must be one of"),
    ('{"speaker": "Ada", "text": "Hi", "confidence": "high"}', "line 4 has a bad field: confidence"),
    ('{"text": "Hi"}', "line 4 has a bad field: speaker"),
])
def test_a_bad_command_line_names_its_number_and_fault(line: str, message: str) -> None:
    with pytest.raises(DebateFailed, match=message):
        parse_turn_line(line, 4, START)
