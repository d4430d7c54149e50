"""The report's findings: the paper's mechanisms and its open questions Q1–Q3, each sentence
built from the numbers of a claim decided in the same report (never a literal verdict), with the
claim whose table holds the evidence.

- Mechanisms: P1 (alternation and stop-gradient), P2 (MI growth), P3 (collapse), P4 (JMI's
  regularizers), P7 (the predictor as surrogate of the marginal term).
- Q1 (other modalities): P8. Q2 (why high MI does not give high accuracy): P5 (across
  methods), P9 (why: a nuisance the views share). Q3 (the Gaussian assumption behind the moment
  surrogates): T4, T5, T6.

A claim this report did not decide is named as such.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mitheory.claims.register import REGISTER
from mitheory.claims.result import Claim


def _p1(c: Claim) -> str:
    def cell(x: dict[str, Any]) -> str:
        lo, hi = x["bounds"]
        return (f"removing {x['removed']} with the {x['row']} reads **{x['reading']}** "
                f"({x['effect']:+.2f} nats [{lo:+.2f}, {hi:+.2f}], δ = {x['margin']:.2f})")

    cells = [cell(x) for x in c.extra["cells"] if x["reading"] != "n/a"]
    return (f"Alternation and stop-gradient ({c.verdict}, P1 table, {len(c.seeds)} seeds): "
            + "; ".join(cells) + ".")


def _p2(c: Claim) -> str:
    return (f"MI read by an independent critic rises near-monotonically for canonical SDMI and "
            f"JMI: {c.verdict} (P2; min gain {c.figure:.1f} SE); the healthy objective that does "
            f"not ask the views to agree does not rise ({c.control.verdict if c.control else '—'}"
            ").")  # fmt: skip


def _p3(c: Claim) -> str:
    arms = [a for a in c.extra["arms"] if a["arm"].count("−stop-grad") == 0]
    wrong = [a["arm"] for a in arms if not a["matches"]]
    slow = [a for a in arms if a["collapsed"] and a["median"] is not None and a["median"] >= 500]
    text = (f"Collapse without the marginal term ({c.verdict}, P3 time-to-collapse table): "
            f"{sum(a['matches'] for a in arms)}/{len(arms)} arms as predicted"
            + (f", not {', '.join(wrong)}" if wrong else ""))
    if slow:
        text += "; slow collapses: " + "; ".join(
            f"{a['arm']} at step {a['median']:.0f} (median)" for a in slow)
    return text + "."


def _p4(c: Claim) -> str:
    return (f"{REGISTER['P4'].text}: **{c.verdict}** (P4 table; JMI −marginal ends at RankMe "
            f"{c.figure:.1f}).")


def _p7(c: Claim) -> str:
    return (f"{REGISTER['P7'].text}: **{c.verdict}** (P7 table; the best predictor reaches "
            f"{c.figure:.2f} of the explicit-marginal DV).")


def _q1(c: Claim) -> str:
    return (f"**Q1 (other modalities).** The P1–P4 rules on token sequences and on two "
            f"modalities: {c.verdict}, {c.figure:.0%} of the sub-claims hold (P8 tables).")


def _q2(c: Claim) -> str:
    return (f"**Q2 (MI and accuracy).** Across methods at equal training length, the method "
            f"means of the backbone features' MI against their linear-probe accuracy: mean "
            f"ρ = {c.figure:+.2f}, permutation p = {c.extra['p']:.3f}, power to see ρ = 0.5 "
            f"{c.extra['power']:.2f}: {c.verdict} (P5 table).")


def _q2_why(c: Claim) -> str:
    shared = c.extra["rules"]["shared"]
    control = c.extra["rules"]["unshared"]

    def span(rules: dict[str, Any], key: str, fmt: str) -> str:
        values = [r[key]["change"] for r in rules.values()]
        return f"{min(values):{fmt}} to {max(values):{fmt}}"

    return (f"**Q2 (why they part).** A nuisance factor the views share raises their MI while "
            f"lowering the probe's accuracy: {c.verdict} (P9 table; over the methods "
            f"{', '.join(shared)}: view MI {span(shared, 'view_mi', '+.2f')} nats, accuracy "
            f"{span(shared, 'probe_acc', '+.2f')}, as the features lose "
            f"{span(shared, 'label_mi', '+.2f')} nats of label information and gain "
            f"{span(shared, 'nuisance_mi', '+.2f')} nats of nuisance). The same nuisance drawn "
            f"apart for each view does not raise the view MI ({span(control, 'view_mi', '+.2f')}"
            f" nats; control {c.control.verdict if c.control else '—'}): the views' MI counts "
            "whatever they share, label or not.")


def _q3(claims: dict[str, Claim]) -> str:
    parts = [f"{REGISTER[cid].text} — **{claims[cid].verdict}** ({cid})"
             for cid in ("T4", "T5", "T6") if cid in claims]  # fmt: skip
    return "**Q3 (the Gaussian assumption).** " + ("; ".join(parts) or "not decided") + "."


MECHANISMS: dict[str, Callable[[Claim], str]] = {"P1": _p1, "P2": _p2, "P3": _p3, "P4": _p4,
                                                 "P7": _p7}  # fmt: skip


def _said(sentence: Callable[[Claim], str], claims: dict[str, Claim], cid: str) -> str | None:
    """The claim's sentence; its text and verdict alone where the claim lacks the fields the
    sentence reads (a claim built by other code than the family's, as in tests); None when
    this report did not decide it."""
    if cid not in claims:
        return None
    try:
        return sentence(claims[cid])
    except (KeyError, IndexError, TypeError):
        return f"{REGISTER[cid].text}: **{claims[cid].verdict}** ({cid})."


def findings(claims: dict[str, Claim]) -> str:
    """The findings section's markdown from the report's claims (by id)."""
    lines = ["The paper's mechanisms, as this report's runs decide them:", ""]
    for cid, sentence in MECHANISMS.items():
        text = _said(sentence, claims, cid) or f"{cid}: decided in the full report."
        lines.append(f"- {text}")
    lines += ["", "The open questions:", ""]
    lines.append("- " + (_said(_q1, claims, "P8") or
                         "**Q1 (other modalities).** P8: decided in the full report."))
    lines.append("- " + (_said(_q2, claims, "P5") or
                         "**Q2 (MI and accuracy).** P5: decided in the full report."))
    if "P9" in claims:
        lines.append("- " + str(_said(_q2_why, claims, "P9")))
    lines.append("- " + _q3(claims))
    return "\n".join(lines) + "\n"
