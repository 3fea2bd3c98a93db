"""What running a debate means: turns, their summary, and the runners that produce them.

A runner turns a topic into a stream of ``Turn``s as they are spoken. Three are built in:

* ``DemoCouncil``: a scripted offline council. Its four personas speak lines assembled from
  templates, the topic and each persona's viewpoint, with a seeded random choice; it is not a
  language model and claims no reasoning. It exists so the broadcast runs with no setup.
* ``CommandRunner``: any external program that prints turns as JSON lines.
* ``ChatCompletionsRunner``: an OpenAI-compatible chat endpoint, e.g. a local Ollama.
"""

from __future__ import annotations

import json
import math
import os
import queue
import random
import re
import shlex
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import IO, Any, Callable, Iterator, Protocol, Sequence, TypeVar, runtime_checkable

from .errors import ConfigError, DebateFailed
from .timeutil import Clock, ensure_utc, from_iso, to_iso, utc_now

STANCES = ("for", "against", "undecided")

T = TypeVar("T")


# --- turns and outcomes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One contribution to a debate, as it was spoken."""

    speaker: str
    text: str
    stance: str  # "for" | "against" | "undecided"
    confidence: float  # 0..1
    time: datetime  # aware UTC
    round: int  # 1-based

    def __post_init__(self) -> None:
        if not isinstance(self.speaker, str) or not self.speaker.strip():
            raise ConfigError(f"speaker must be non-empty text, got {self.speaker!r}")
        if not isinstance(self.text, str) or not self.text.strip():
            raise ConfigError("text must be non-empty text, got an empty turn")
        if self.stance not in STANCES:
            raise ConfigError(f"stance must be one of {', '.join(STANCES)}, got {self.stance!r}")
        if not _is_number(self.confidence) or not 0.0 <= self.confidence <= 1.0:
            raise ConfigError(f"confidence must be a number 0-1, got {self.confidence!r}")
        if isinstance(self.round, bool) or not isinstance(self.round, int) or self.round < 1:
            raise ConfigError(f"round must be a whole number from 1, got {self.round!r}")
        object.__setattr__(self, "confidence", float(self.confidence))
        object.__setattr__(self, "time", ensure_utc(self.time))

    def to_doc(self) -> dict[str, Any]:
        return {**asdict(self), "time": to_iso(self.time)}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Turn":
        try:
            values = {key: doc[key] for key in ("speaker", "text", "stance", "confidence", "round")}
            when = from_iso(doc["time"]) if isinstance(doc["time"], str) else doc["time"]
            if not isinstance(when, datetime):
                raise TypeError(f"time is {type(when).__name__}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"a turn needs speaker, text, stance, confidence, time (ISO 8601) and round; {exc!r}"
            ) from None
        return cls(time=when, **values)


@dataclass(frozen=True)
class DebateOutcome:
    """The numbers a finished (or stopped) debate is remembered by."""

    participants: int
    rounds: int
    responses: int
    avg_response_length: float  # characters
    avg_confidence: float  # 0..1
    consensus_level: float  # 0..1: share of final stances that agree with the majority
    controversy_score: float  # 0..1: 1 when for and against were evenly split over all turns
    verdict: str  # "for" | "against" | "split"

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


def summarize(turns: Sequence[Turn]) -> DebateOutcome:
    """The outcome of a debate from its turns; raises DebateFailed when there are none."""
    if not turns:
        raise DebateFailed("the debate produced no turns")
    final = final_stances(turns)
    agreeing = max(final.count("for"), final.count("against"))
    return DebateOutcome(
        participants=len({turn.speaker for turn in turns}),
        rounds=max(turn.round for turn in turns),
        responses=len(turns),
        avg_response_length=sum(len(turn.text) for turn in turns) / len(turns),
        avg_confidence=sum(turn.confidence for turn in turns) / len(turns),
        consensus_level=agreeing / len(final),
        controversy_score=_controversy([turn.stance for turn in turns]),
        verdict=_verdict(final),
    )


def final_stances(turns: Sequence[Turn]) -> list[str]:
    """Each speaker's last stance: the final round's stances, even if that round was cut short."""
    last: dict[str, str] = {}
    for turn in sorted(turns, key=lambda t: t.round):  # stable: keeps spoken order within a round
        last[turn.speaker] = turn.stance
    return list(last.values())


def _verdict(stances: Sequence[str]) -> str:
    votes_for, votes_against = stances.count("for"), stances.count("against")
    if votes_for == votes_against:
        return "split"
    return "for" if votes_for > votes_against else "against"


def _controversy(stances: Sequence[str]) -> float:
    votes_for, votes_against = stances.count("for"), stances.count("against")
    decided = votes_for + votes_against
    return 0.0 if decided == 0 else 1.0 - abs(votes_for - votes_against) / decided


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- the runner protocol -----------------------------------------------------------------------


@runtime_checkable
class DebateRunner(Protocol):
    """Produces a debate's turns as they are spoken."""

    name: str

    def turns(self, topic: str, *, debate_id: str, cancel: threading.Event) -> Iterator[Turn]:
        """Yields turns; returns early when ``cancel`` is set; raises DebateFailed on failure."""
        ...


# --- personas and demo topics ------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    """A council member. In ``DemoCouncil`` its lines are scripted templates, not model output."""

    name: str
    role: str
    viewpoint: str  # a clause that completes "As I see it, ..."
    leaning: str  # the stance it opens with: "for" | "against" | "undecided"


DEFAULT_PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="Ada Lindqvist",
        role="an optimistic technologist",
        viewpoint="new tools, built in the open and improved quickly, widen what ordinary people can do",
        leaning="for",
    ),
    Persona(
        name="Miriam Okafor",
        role="a sceptical ethicist",
        viewpoint="a change is only good if the people who carry its risks have a say in it",
        leaning="against",
    ),
    Persona(
        name="Rafael Ortega",
        role="a pragmatic economist",
        viewpoint=("every policy is a trade of costs and incentives, "
                   "and the question is who pays and who gains"),
        leaning="undecided",
    ),
    Persona(
        name="Grace Whitfield",
        role="a historian of technology and institutions",
        viewpoint="history never repeats exactly, but it shows which confident predictions aged badly",
        leaning="against",
    ),
)

DEMO_TOPICS: tuple[str, ...] = (
    "Frontier AI models should be licensed by governments before release",
    "Universal basic income should replace most means-tested benefits",
    "Social media platforms should be banned for children under 16",
    "Remote work is better for society than office work",
    "Nuclear power is essential to reach net-zero emissions",
    "Open-source AI does more good than harm",
    "Cities should make public transport free at the point of use",
    "A four-day working week should become the legal standard",
    "Gene editing of human embryos should be permitted to prevent disease",
    "Cryptocurrencies do more harm than good",
    "Schools should teach with AI tutors in every classroom",
    "Billionaires should face a global minimum wealth tax",
    "Space exploration is worth its cost while problems remain on Earth",
    "Voting should be compulsory in democracies",
    "Autonomous weapons should be banned by international treaty",
    "Facial recognition in public spaces should be prohibited",
    "Meat production should be taxed for its climate impact",
    "Copyright should not protect works generated by AI",
    "Tech giants should be broken up by competition regulators",
    "Employers should be allowed to monitor remote workers' activity",
)


def pick_topic(used: Sequence[str]) -> str:
    """The demo topic used least recently in ``used`` (oldest first); never-used topics come first."""
    last_use = {topic: position for position, topic in enumerate(used)}
    return min(DEMO_TOPICS, key=lambda topic: (last_use.get(topic, -1), DEMO_TOPICS.index(topic)))


def _check_personas(personas: Sequence[Persona]) -> tuple[Persona, ...]:
    personas = tuple(personas)
    names = [persona.name for persona in personas]
    if len(personas) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"a council needs at least 2 personas with distinct names, got {names}")
    for persona in personas:
        if persona.leaning not in STANCES:
            raise ConfigError(f"{persona.name}'s leaning must be one of {', '.join(STANCES)}, "
                              f"got {persona.leaning!r}")
    return personas


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if not _is_number(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "more than 0"
        raise ConfigError(f"{name} must be a number {bound}, got {value!r}")


def _check_rounds(rounds: int) -> None:
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 20:
        raise ConfigError(f"rounds must be a whole number 1-20, got {rounds!r}")


# --- DemoCouncil: the scripted offline council -------------------------------------------------

_STANCE_WORDS = {"for": "in favour", "against": "opposed", "undecided": "undecided"}

_OPENING_CLAIMS = {
    "for": ("I support the motion “{topic}”.", "On “{topic}”, I come down in favour.",
            "My answer to “{topic}” is yes."),
    "against": ("I oppose the motion “{topic}”.", "On “{topic}”, my answer is no.",
                "I cannot support “{topic}”."),
    "undecided": ("On “{topic}”, I have not made up my mind.",
                  "I am undecided on “{topic}”.",
                  "“{topic}” is harder than it sounds, and I am not persuaded either way."),
}

_CLOSING_CLAIMS = {
    "for": ("My final word on “{topic}”: I am in favour.",
            "Weighing it all, I support “{topic}”."),
    "against": ("My final word on “{topic}”: I am opposed.",
                "Weighing it all, I cannot support “{topic}”."),
    "undecided": ("My final word on “{topic}”: I am undecided.",
                  "Weighing it all, “{topic}” remains an open question for me."),
}

_VIEW_LEADS = ("My starting point is simple: {view}.", "I keep coming back to one conviction: {view}.",
               "As I see it, {view}.", "Everything I have studied tells me that {view}.")

_ARGUMENTS = {
    "for": ("The benefits arrive sooner than the harms, and the harms can be managed as we learn.",
            "Standing still has a cost too, and it falls on the people who would gain the most.",
            "The evidence we have points more to gains than to losses.",
            "Done with care, this widens people's choices instead of narrowing them."),
    "against": ("The risks land on people who were never asked.",
                "We have heard promises like this before, and the bill came later.",
                "The safeguards this would need do not exist yet.",
                "Once this is done, it will be very hard to undo."),
    "undecided": ("The evidence cuts both ways, and much depends on how it would be done.",
                  "I want to see who pays and who gains before I commit.",
                  "The strongest arguments on each side rest on guesses about the future.",
                  "A careful trial would tell us more than another round of opinions."),
}

_REACTIONS = {
    "agree": ("{prev} is right, and I would go further.",
              "I agree with {prev}, though for a different reason.",
              "{prev} made the point well; let me add one thing."),
    "disagree": ("{prev}, I hear you, but I see it differently.",
                 "With respect to {prev}, that argument skips the hard part.",
                 "{prev} makes a fair point, yet it does not settle the matter."),
    "persuaded": ("{prev} has moved me.", "{prev}'s argument has shifted my view.",
                  "I arrived {old}, but {prev} has changed my mind."),
}


@dataclass(frozen=True)
class _Line:
    speaker: str
    text: str
    stance: str
    confidence: float
    round: int


@dataclass(frozen=True)
class _Reply:
    previous: str  # the speaker being answered
    previous_stance: str
    old: str  # this speaker's stance before this turn
    stance: str


class DemoCouncil:
    """A scripted offline council: template lines from a seeded random choice, no language model.

    The same debate id and topic always give the same transcript. Turns are paced
    ``turn_seconds`` apart for a broadcast audience; the pause does not stand for any work.
    """

    name = "demo"
    description = "Scripted offline council: template text, not a language model"

    def __init__(self, turn_seconds: float = 20.0, rounds: int = 3,
                 personas: tuple[Persona, ...] = DEFAULT_PERSONAS, clock: Clock = utc_now) -> None:
        _check_positive("turn_seconds", turn_seconds, allow_zero=True)
        _check_rounds(rounds)
        self.turn_seconds = float(turn_seconds)
        self.rounds = rounds
        self.personas = _check_personas(personas)
        self.clock = clock

    def __repr__(self) -> str:
        return (f"DemoCouncil(turn_seconds={self.turn_seconds:g}, rounds={self.rounds}, "
                f"personas={len(self.personas)})")

    def turns(self, topic: str, *, debate_id: str, cancel: threading.Event) -> Iterator[Turn]:
        for index, line in enumerate(self.script(topic, debate_id)):
            stopped = cancel.wait(self.turn_seconds) if index else cancel.is_set()
            if stopped:
                return
            yield Turn(line.speaker, line.text, line.stance, line.confidence, self.clock(), line.round)

    def script(self, topic: str, debate_id: str) -> Iterator[_Line]:
        """The transcript without pacing or timestamps; reproducible from (debate_id, topic)."""
        rng = random.Random(f"{debate_id}\n{topic}")
        stances: dict[str, str] = {}
        previous: Persona | None = None
        for round_no in range(1, self.rounds + 1):
            for persona in self._speaking_order(rng, round_no, previous):
                yield self._line(rng, topic, round_no, persona, previous, stances)
                previous = persona

    def _speaking_order(self, rng: random.Random, round_no: int, previous: Persona | None) -> list[Persona]:
        order = list(self.personas)
        if round_no > 1:
            rng.shuffle(order)
            if order[0] == previous:  # nobody rebuts their own last words
                order[0], order[1] = order[1], order[0]
        return order

    def _line(self, rng: random.Random, topic: str, round_no: int, persona: Persona,
              previous: Persona | None, stances: dict[str, str]) -> _Line:
        old = stances.get(persona.name)
        other = stances.get(previous.name) if previous else None
        stance = _opening_stance(rng, persona) if old is None else _maybe_persuaded(rng, old, other)
        stances[persona.name] = stance
        if old is None or previous is None:
            text = _opening_text(rng, topic, persona, stance)
        else:
            text = self._reply_text(rng, topic, round_no, _Reply(previous.name, other or old, old, stance))
        confidence = _confidence(rng, stance, round_no, changed=old not in (None, stance))
        return _Line(persona.name, text, stance, confidence, round_no)

    def _reply_text(self, rng: random.Random, topic: str, round_no: int, reply: _Reply) -> str:
        closing = round_no == self.rounds
        claims = _CLOSING_CLAIMS if closing else _OPENING_CLAIMS
        claim = rng.choice(claims[reply.stance]).format(topic=topic)
        argument = rng.choice(_ARGUMENTS[reply.stance])
        return f"{'To close: ' if closing else ''}{_reaction(rng, reply)} {claim} {argument}"


def _opening_text(rng: random.Random, topic: str, persona: Persona, stance: str) -> str:
    claim = rng.choice(_OPENING_CLAIMS[stance]).format(topic=topic)
    view = rng.choice(_VIEW_LEADS).format(view=persona.viewpoint)
    return f"{claim} {view} {rng.choice(_ARGUMENTS[stance])}"


def _reaction(rng: random.Random, reply: _Reply) -> str:
    if reply.stance != reply.old:
        kind = "persuaded"
    else:
        kind = "agree" if reply.stance == reply.previous_stance else "disagree"
    return rng.choice(_REACTIONS[kind]).format(prev=reply.previous, old=_STANCE_WORDS[reply.old])


def _opening_stance(rng: random.Random, persona: Persona) -> str:
    if persona.leaning != "undecided":
        return persona.leaning
    return rng.choices(STANCES, weights=(0.35, 0.35, 0.3))[0]


def _maybe_persuaded(rng: random.Random, old: str, other: str | None) -> str:
    """One step towards the previous speaker's stance, now and then: for <-> undecided <-> against."""
    if other is None or other == old:
        return old
    chance = 0.5 if old == "undecided" else 0.25  # the undecided are easier to move
    if rng.random() >= chance:
        return old
    return other if old == "undecided" else "undecided"


def _confidence(rng: random.Random, stance: str, round_no: int, *, changed: bool) -> float:
    if changed:
        value = rng.uniform(0.45, 0.7)  # a fresh convert is not yet sure
    elif stance == "undecided":
        value = rng.uniform(0.4, 0.6)
    else:
        value = min(0.95, rng.uniform(0.6, 0.88) + 0.03 * (round_no - 1))
    return round(value, 2)


# --- CommandRunner: an external program printing JSON lines ------------------------------------

_STOP_GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.1  # how often a blocked wait looks at the cancel event


class CommandRunner:
    """Runs ``command topic`` and reads one JSON turn per stdout line as it arrives."""

    name = "command"
    description = "External program printing JSON lines"

    def __init__(self, command: str, timeout_seconds: float = 3600, clock: Clock = utc_now) -> None:
        self.argv = _split_command(command)
        _check_positive("timeout_seconds", timeout_seconds)
        self.command = command
        self.timeout_seconds = float(timeout_seconds)
        self.clock = clock

    def __repr__(self) -> str:
        return f"CommandRunner(command={self.command!r}, timeout_seconds={self.timeout_seconds:g})"

    def turns(self, topic: str, *, debate_id: str, cancel: threading.Event) -> Iterator[Turn]:
        env = {**os.environ, "AI_COUNCIL_TOPIC": topic, "AI_COUNCIL_DEBATE_ID": debate_id}
        child = _Child.start([*self.argv, topic], env)
        deadline = time.monotonic() + self.timeout_seconds
        try:
            yield from self._read_turns(child, cancel, deadline)
            if child.wait(cancel, deadline, self.timeout_seconds) is not None:
                child.check_exit()
        finally:
            child.stop()

    def _read_turns(self, child: _Child, cancel: threading.Event, deadline: float) -> Iterator[Turn]:
        number = 0
        while (raw := child.next_line(cancel, deadline, self.timeout_seconds)) is not None:
            number += 1
            turn = parse_turn_line(raw, number, self.clock())
            if turn is not None:
                yield turn


def _split_command(command: str) -> list[str]:
    try:
        argv = shlex.split(command or "")
    except ValueError as exc:
        raise ConfigError(f"command must be a shell-style command line, got {command!r} ({exc})") from None
    if not argv:
        raise ConfigError("command must name a program, e.g. 'python my_council.py', got an empty command")
    return argv


def parse_turn_line(raw: bytes | str, number: int, now: datetime) -> Turn | None:
    """One stdout line as a turn (None for a blank line); DebateFailed names the line and the fault."""
    line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if not line.strip():
        return None
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _bad_line(number, f"is not JSON ({exc.msg}): {_snippet(line)}") from None
    if not isinstance(doc, dict):
        raise _bad_line(number, f"is not a JSON object: {_snippet(line)}")
    try:
        return Turn(speaker=doc.get("speaker"), text=doc.get("text"),  # type: ignore[arg-type]  # Turn checks
                    stance=doc.get("stance", "undecided"),
                    confidence=_clamped_confidence(doc.get("confidence", 0.5)), time=now,
                    round=doc.get("round", 1))
    except ConfigError as exc:
        raise _bad_line(number, f"has a bad field: {exc}") from None


def _clamped_confidence(value: Any) -> Any:
    """Numbers are clamped to 0-1; anything else is left for Turn to reject with a clear message."""
    return min(1.0, max(0.0, float(value))) if _is_number(value) else value


def _bad_line(number: int, problem: str) -> DebateFailed:
    return DebateFailed(
        f"command output line {number} {problem}; each line must be a JSON object such as "
        '{"speaker": "Ada", "text": "...", "stance": "for", "confidence": 0.8, "round": 1}'
    )


def _snippet(text: str, limit: int = 80) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


class _Child:
    """A child process in its own process group, with its output read by helper threads."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr_tail = bytearray()
        self.readers = [threading.Thread(target=self._read_stdout, daemon=True, name="council-stdout"),
                        threading.Thread(target=self._read_stderr, daemon=True, name="council-stderr")]
        for reader in self.readers:
            reader.start()

    @classmethod
    def start(cls, argv: list[str], env: dict[str, str]) -> _Child:
        try:
            # A new session lets stop() signal the whole group, so grandchildren are not orphaned.
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as exc:
            raise DebateFailed(f"cannot start command {argv[0]!r}: {exc.strerror or exc}") from None
        return cls(proc)

    def _read_stdout(self) -> None:
        with self.proc.stdout:  # type: ignore[union-attr]
            for raw in self.proc.stdout:  # type: ignore[union-attr]
                self.lines.put(raw)
        self.lines.put(None)

    def _read_stderr(self) -> None:
        stream: IO[bytes] = self.proc.stderr  # type: ignore[assignment]
        with stream:
            while chunk := stream.read1(4096):  # type: ignore[attr-defined]
                self.stderr_tail = (self.stderr_tail + chunk)[-4000:]  # only the tail is reported

    def next_line(self, cancel: threading.Event, deadline: float, timeout: float) -> bytes | None:
        """The next stdout line; None at end of output or when cancelled."""
        while not cancel.is_set():
            _check_deadline(deadline, timeout)
            try:
                return self.lines.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
        return None

    def wait(self, cancel: threading.Event, deadline: float, timeout: float) -> int | None:
        """The exit code once the program ends; None when cancelled first."""
        while not cancel.is_set():
            _check_deadline(deadline, timeout)
            try:
                return self.proc.wait(timeout=_POLL_SECONDS)
            except subprocess.TimeoutExpired:
                continue
        return None

    def check_exit(self) -> None:
        code = self.proc.returncode
        if code == 0:
            return
        self.readers[1].join(timeout=1.0)  # let the last stderr bytes arrive
        tail = self.stderr_tail.decode("utf-8", errors="replace").strip()[-500:] or "(no stderr output)"
        how = f"was stopped by signal {-code}" if code < 0 else f"exited with code {code}"
        raise DebateFailed(f"command {how}; stderr: {tail}")

    def stop(self) -> None:
        """Terminates the program (then kills it after a grace period) unless it has already ended."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=_STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
                self.proc.wait()
        for reader in self.readers:
            reader.join(timeout=1.0)

    def _signal(self, signum: int) -> None:
        try:
            if os.name == "posix":
                os.killpg(self.proc.pid, signum)
            else:
                self.proc.send_signal(signum)
        except ProcessLookupError:  # it ended between the check and the signal
            pass


def _check_deadline(deadline: float, timeout: float) -> None:
    if time.monotonic() >= deadline:
        raise DebateFailed(f"command did not finish within its time limit of {timeout:g} s")


# --- ChatCompletionsRunner: an OpenAI-compatible chat endpoint ---------------------------------

_TRANSCRIPT_TURNS = 6  # how much of the debate each request shows the model
_REPLY_FORMAT = ('{"stance": "for|against|undecided", "confidence": <number 0..1>, '
                 '"text": "<your contribution, at most 120 words>"}')
_STANCE_ALIASES = {"pro": "for", "yes": "for", "support": "for", "in favour": "for", "in favor": "for",
                   "con": "against", "no": "against", "oppose": "against", "opposed": "against",
                   "neutral": "undecided", "unsure": "undecided"}
_FENCE = re.compile(r"```[A-Za-z]*\s*(.*?)```", re.DOTALL)


def mask_secret(secret: str | None) -> str:
    """A secret as it may be shown: first 4 and last 4 characters, or only stars when short."""
    if not secret:
        return ""
    return "****" if len(secret) < 12 else f"{secret[:4]}****{secret[-4:]}"


class ChatCompletionsRunner:
    """Each persona's turn is one request to ``{base_url}/chat/completions``."""

    name = "llm"
    description = "OpenAI-compatible chat endpoint"

    def __init__(self, base_url: str, model: str, api_key: str | None = None,
                 personas: tuple[Persona, ...] = DEFAULT_PERSONAS, rounds: int = 3,
                 timeout_seconds: float = 120, clock: Clock = utc_now) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"llm url must start with http:// or https://, got {base_url!r}")
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"llm model must be a model name such as 'llama3.2', got {model!r}")
        _check_rounds(rounds)
        _check_positive("timeout_seconds", timeout_seconds)
        self.base_url = base_url.rstrip("/")
        self.model = model.strip()
        self._api_key = api_key or None
        self.personas = _check_personas(personas)
        self.rounds = rounds
        self.timeout_seconds = float(timeout_seconds)
        self.clock = clock

    def __repr__(self) -> str:
        key = mask_secret(self._api_key) or None
        return (f"ChatCompletionsRunner(base_url={self.base_url!r}, model={self.model!r}, "
                f"api_key={key!r}, rounds={self.rounds}, timeout_seconds={self.timeout_seconds:g})")

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def turns(self, topic: str, *, debate_id: str, cancel: threading.Event) -> Iterator[Turn]:
        spoken: list[Turn] = []
        for round_no in range(1, self.rounds + 1):
            for persona in self.personas:
                if cancel.is_set():
                    return
                messages = self.messages(persona, topic, round_no, spoken)
                content = _unless_cancelled(lambda: self._complete(messages), cancel,
                                            self.timeout_seconds, self._timed_out)
                if content is None:
                    return
                stance, confidence, text = parse_reply(content)
                spoken.append(Turn(persona.name, text, stance, confidence, self.clock(), round_no))
                yield spoken[-1]

    def messages(self, persona: Persona, topic: str, round_no: int,
                 spoken: Sequence[Turn]) -> list[dict[str, str]]:
        """The chat messages for one persona's turn: who they are, then the debate so far."""
        system = (f"You are {persona.name}, {persona.role}, on a live public debate panel. "
                  f"Your viewpoint: {persona.viewpoint}. Argue in character, briefly and concretely. "
                  f"Answer with exactly one JSON object and nothing else: {_REPLY_FORMAT}")
        return [{"role": "system", "content": system},
                {"role": "user", "content": _user_prompt(topic, round_no, self.rounds, spoken)}]

    def _complete(self, messages: list[dict[str, str]]) -> str:
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0.7}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                return _reply_content(response.status, response.read())
        except _BadReply as exc:
            raise self._failed(str(exc)) from None
        except urllib.error.HTTPError as exc:
            raise self._failed(f"answered HTTP {exc.code}: {_error_reason(exc)}") from None
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            raise self._failed(_network_reason(exc, self.timeout_seconds)) from None

    def _timed_out(self) -> DebateFailed:
        return self._failed(f"gave no answer within {self.timeout_seconds:g} s")

    def _failed(self, reason: str) -> DebateFailed:
        message = f"chat endpoint {self.url} {reason}"
        if self._api_key:  # a server may echo the key back in its error text
            message = message.replace(self._api_key, mask_secret(self._api_key))
        return DebateFailed(message)


def _user_prompt(topic: str, round_no: int, rounds: int, spoken: Sequence[Turn]) -> str:
    if round_no == 1:
        task = "Give your opening statement."
    elif round_no == rounds:
        task = "Give your closing statement; say whether the debate changed your mind."
    else:
        task = "Reply to the previous speakers, naming who you answer."
    recent = "\n".join(f"{t.speaker} ({t.stance}): {t.text}" for t in spoken[-_TRANSCRIPT_TURNS:])
    transcript = f"The debate so far (latest turns):\n{recent}" if recent else "You speak first."
    return f"Motion: {topic}\nRound {round_no} of {rounds}. {task}\n\n{transcript}"


class _BadReply(ValueError):
    """The endpoint answered, but not with a chat completion."""


def _reply_content(status: int, raw: bytes) -> str:
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        body = _snippet(raw.decode("utf-8", errors="replace"))
        raise _BadReply(f"answered HTTP {status} without choices[0].message.content: {body}") from None
    if not isinstance(content, str) or not content.strip():
        raise _BadReply(f"answered HTTP {status} with an empty message content")
    return content


def _error_reason(exc: urllib.error.HTTPError) -> str:
    """The server's own error message when it sends one (OpenAI and Ollama shapes), else the status text."""
    try:
        doc = json.loads(exc.read() or b"null")
    except (ValueError, OSError):
        doc = None
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    reason = error if isinstance(error, str) and error.strip() else str(exc.reason or "no reason given")
    return reason.strip()[:200]


def _network_reason(exc: BaseException, timeout: float) -> str:
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, TimeoutError):
        return f"gave no answer within {timeout:g} s"
    return f"could not be reached: {cause}"[:300]


def _unless_cancelled(work: Callable[[], T], cancel: threading.Event, timeout: float,
                      on_timeout: Callable[[], Exception]) -> T | None:
    """Runs ``work`` in a helper thread so a cancel or the time limit need not wait for a slow server.

    Returns None when cancelled; the abandoned request ends on its own socket timeout.
    """
    box: dict[str, Any] = {}
    worker = threading.Thread(target=_capture, args=(work, box), daemon=True, name="council-llm")
    worker.start()
    deadline = time.monotonic() + timeout
    while worker.is_alive():
        if cancel.is_set():
            return None
        if time.monotonic() >= deadline:
            raise on_timeout()
        worker.join(_POLL_SECONDS)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _capture(work: Callable[[], Any], box: dict[str, Any]) -> None:
    try:
        box["value"] = work()
    except BaseException as exc:  # handed to the waiting thread, which re-raises it
        box["error"] = exc


def parse_reply(content: str) -> tuple[str, float, str]:
    """(stance, confidence, text) from a model's reply: a JSON object, fenced or not, or plain prose."""
    doc = _find_json_object(content)
    if doc is None:
        return "undecided", 0.5, content.strip()
    text = doc.get("text")
    if not isinstance(text, str) or not text.strip():
        text = _first_text(doc) or content.strip()
    return _reply_stance(doc.get("stance")), _reply_confidence(doc.get("confidence")), text.strip()


def _find_json_object(content: str) -> dict[str, Any] | None:
    candidates = [*_FENCE.findall(content), content]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start in (m.start() for m in re.finditer(r"\{", candidate)):
            try:
                doc, _ = decoder.raw_decode(candidate, start)
            except ValueError:
                continue
            if isinstance(doc, dict):
                return doc
    return None


def _first_text(doc: dict[str, Any]) -> str | None:
    """Models sometimes name the field differently ("argument", "response"): take the first prose value."""
    for key, value in doc.items():
        if key not in ("stance", "confidence") and isinstance(value, str) and value.strip():
            return value
    return None


def _reply_stance(value: Any) -> str:
    word = value.strip().lower() if isinstance(value, str) else ""
    word = _STANCE_ALIASES.get(word, word)
    return word if word in STANCES else "undecided"


def _reply_confidence(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip().rstrip("%"))
        except ValueError:
            return 0.5
    if not _is_number(value):
        return 0.5
    if 1.0 < value <= 100.0:  # models often answer in percent
        value /= 100.0
    return min(1.0, max(0.0, float(value)))


# --- choosing a runner -------------------------------------------------------------------------


def runner_from_settings(*, turn_seconds: float, llm_url: str | None, llm_model: str | None,
                         llm_api_key: str | None, command: str | None) -> DebateRunner:
    """The LLM runner when a URL is set, else the command runner when a command is set, else the demo."""
    if llm_url and llm_url.strip():
        model = (llm_model or "").strip() or "llama3.2"
        return ChatCompletionsRunner(llm_url.strip(), model, api_key=(llm_api_key or "").strip() or None)
    if command and command.strip():
        return CommandRunner(command.strip())
    return DemoCouncil(turn_seconds=turn_seconds)
