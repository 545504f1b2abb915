"""An evaluation's results as JSON (everything), Markdown and one self-contained HTML page (side-by-side tables).

The Markdown and HTML hold no clock or machine values (no timings, no dates), so the same models, prompts
and settings give the same bytes; timings stay in the JSON.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.report.markdown_text import md_code, md_text
from evaluation.answers import GenerationSettings, ModelAnswers
from evaluation.heldout import LossResult
from evaluation.prompt_sets import PromptSpec

EVAL_JSON = "eval.json"
EVAL_MD = "eval.md"
EVAL_HTML = "eval.html"


@dataclass
class EvalResults:
    prompts: list[PromptSpec]
    settings: GenerationSettings
    models: list[ModelAnswers]
    losses: dict[str, LossResult | None] = field(default_factory=dict)  # model label -> held-out loss
    loss_data: str | None = None  # the curation output folder the loss was measured on
    title: str = "Model evaluation"
    preamble: list[str] = field(default_factory=list)  # Markdown paragraphs shown before the summary
    extra: dict[str, Any] = field(default_factory=dict)  # more JSON (e.g. the experiment's runs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "settings": self.settings.as_dict(),
            "prompts": [p.as_dict() for p in self.prompts],
            "models": [
                {"label": m.ref.label, "model": m.ref.shown_spec, "description": m.description,
                 "passed": m.passed, "checks": m.checks, "answers": [a.as_dict() for a in m.answers],
                 "heldout": (self.losses.get(m.ref.label).as_dict() if self.losses.get(m.ref.label) else None)}
                for m in self.models
            ],
            "heldout_data": self.loss_data,
            **self.extra,
        }

    def loss_of(self, label: str) -> LossResult | None:
        return self.losses.get(label)


def _settings_line(s: GenerationSettings) -> str:
    d = s.as_dict()
    return (f"Generation: {d['decoding']}, temperature {s.temperature:g}, at most {s.max_new_tokens} new tokens, "
            f"seed {s.seed}, context {s.n_ctx} tokens; the same for every model and prompt.")


def _loss_line(r: EvalResults) -> str | None:
    scored = [v for v in r.losses.values() if v is not None]
    if not scored:
        return None
    first = scored[0]
    tokens = {v.tokens for v in scored}
    count = f"{first.tokens:,} assistant tokens" if len(tokens) == 1 else "assistant tokens counted by each model's tokenizer"
    return (f"Held-out loss: mean loss per assistant token on the `{first.split}` split of `{r.loss_data}` "
            f"({first.rows} rows, {count}, at most {first.max_seq_length} tokens per row); "
            "perplexity = exp(loss). Lower is better.")


def _md_cell(text: str) -> str:
    """Text in a table cell: literal (a model's answer may hold HTML, ``<!--`` or ``|``), its line breaks kept."""
    return md_text(text, newline="<br>") if text else "*(empty)*"


def summary_rows(r: EvalResults) -> tuple[list[str], list[list[str]]]:
    head = ["model", "checks passed"] + [p.id for p in r.prompts]
    has_loss = any(v is not None for v in r.losses.values())
    if has_loss:
        head += ["held-out loss", "perplexity"]
    rows = []
    for m in r.models:
        row = [m.ref.label, f"{m.passed}/{m.checks}"]
        row += [f"{a.passed}/{len(a.checks)}" for a in m.answers]
        if has_loss:
            loss = r.loss_of(m.ref.label)
            row += [f"{loss.loss:.4f}" if loss else "–", f"{loss.perplexity:.2f}" if loss else "–"]
        rows.append(row)
    return head, rows


def render_markdown(r: EvalResults) -> str:
    out = [f"# {r.title}\n"]
    out += [p + "\n" for p in r.preamble]
    out.append(_settings_line(r.settings) + "\n")
    loss_line = _loss_line(r)
    if loss_line:
        out.append(loss_line + "\n")
    out.append("Models:\n")
    out += [f"- **{md_text(m.ref.label)}**: {md_code(m.ref.shown_spec)}, {md_text(m.description)}" for m in r.models]
    out.append("\n## Summary\n")
    head, rows = summary_rows(r)
    out.append("| " + " | ".join(_md_cell(h) for h in head) + " |")
    out.append("|---|" + "|".join("---:" for _ in head[1:]) + "|")
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    out.append("")
    for k, prompt in enumerate(r.prompts):
        out.append(f"## {k + 1}. {md_text(prompt.id)}\n")
        out.append("> " + md_text(prompt.text, newline="\n> ") + "\n")
        out.append("| | " + " | ".join(_md_cell(m.ref.label) for m in r.models) + " |")
        out.append("|---|" + "|".join("---" for _ in r.models) + "|")
        answers = [m.answers[k] for m in r.models]
        out.append("| answer | " + " | ".join(_md_cell(a.text) for a in answers) + " |")
        for j, check in enumerate(prompt.checks):
            cells = []
            for a in answers:
                c = a.checks[j]
                cells.append(("✅ " if c.passed else "❌ ") + _md_cell(c.detail))
            out.append(f"| {_md_cell(answers[0].checks[j].name if answers else check.name)} | " + " | ".join(cells) + " |")
        out.append("| **passed** | " + " | ".join(f"**{a.passed}/{len(a.checks)}**" for a in answers) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


CSS = """
:root { --ink:#1d2433; --muted:#5b6577; --line:#e3e7ee; --bg:#f6f8fb; --ok:#2a9d8f; --bad:#e76f51; --accent:#1f77b4; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.5 "DejaVu Sans", system-ui, sans-serif; }
main { max-width:1400px; margin:0 auto; padding:28px 28px 60px; }
h1 { font-size:26px; margin:0 0 6px; } h2 { font-size:18px; margin:0 0 6px; }
p.note { color:var(--muted); margin:4px 0; font-size:13px; }
section { background:#fff; border:1px solid var(--line); border-radius:12px; padding:18px 22px; margin:18px 0; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
blockquote { margin:6px 0 12px; padding:8px 12px; background:#f3f5f9; border-left:3px solid var(--accent); border-radius:4px; }
.answer { white-space:pre-wrap; word-break:break-word; font-size:12.5px; max-height:560px; overflow:auto; }
.ok { color:var(--ok); } .bad { color:var(--bad); }
.check { font-size:12px; } .check b { font-weight:600; }
.score { font-weight:700; }
code { background:#eef1f6; padding:1px 5px; border-radius:4px; font-size:12px; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def render_html(r: EvalResults) -> str:
    parts = [f"<h1>{_e(r.title)}</h1>"]
    for p in r.preamble:
        parts.append(f'<p class="note">{_inline_md(p)}</p>')
    parts.append(f'<p class="note">{_inline_md(_settings_line(r.settings))}</p>')
    loss_line = _loss_line(r)
    if loss_line:
        parts.append(f'<p class="note">{_inline_md(loss_line)}</p>')
    head, rows = summary_rows(r)
    table = "<table><thead><tr>" + "".join(f'<th{" class=num" if i else ""}>{_e(h)}</th>' for i, h in enumerate(head))
    table += "</tr></thead><tbody>"
    for m, row in zip(r.models, rows):
        cells = [f"<td><b>{_e(row[0])}</b><br><span class=\"note\"><code>{_e(m.ref.shown_spec)}</code></span></td>"]
        cells += [f'<td class="num">{_e(c)}</td>' for c in row[1:]]
        table += "<tr>" + "".join(cells) + "</tr>"
    table += "</tbody></table>"
    parts.append(f"<section><h2>Summary</h2>{table}</section>")
    width = f"{max(18, 80 // max(1, len(r.models)))}%"
    for k, prompt in enumerate(r.prompts):
        answers = [m.answers[k] for m in r.models]
        t = "<table><thead><tr><th style=\"width:12%\"></th>" + "".join(
            f'<th style="width:{width}">{_e(m.ref.label)}</th>' for m in r.models) + "</tr></thead><tbody>"
        t += "<tr><td>answer</td>" + "".join(f'<td><div class="answer">{_e(a.text) or "<i>(empty)</i>"}</div></td>'
                                             for a in answers) + "</tr>"
        for j, _check in enumerate(prompt.checks):
            name = answers[0].checks[j].name if answers else _check.name
            t += f"<tr><td class=\"check\"><b>{_e(name)}</b></td>" + "".join(
                f'<td class="check"><span class="{"ok" if a.checks[j].passed else "bad"}">'
                f'{"✔" if a.checks[j].passed else "✘"}</span> {_e(a.checks[j].detail)}</td>' for a in answers) + "</tr>"
        t += "<tr><td><b>passed</b></td>" + "".join(f'<td class="score">{a.passed}/{len(a.checks)}</td>' for a in answers)
        t += "</tr></tbody></table>"
        parts.append(f"<section><h2>{k + 1}. {_e(prompt.id)}</h2><blockquote>{_e(prompt.text)}</blockquote>{t}</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(r.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(parts) + "\n</main>\n</body>\n</html>\n")


def _inline_md(text: str) -> str:
    """`code` and **bold** of our own Markdown lines, as HTML (everything else escaped)."""
    import re

    out = _e(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)


def write_results(r: EvalResults, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        EVAL_JSON: json.dumps(r.as_dict(), indent=2, ensure_ascii=False) + "\n",
        EVAL_MD: render_markdown(r),
        EVAL_HTML: render_html(r),
    }
    written = {}
    for name, text in files.items():
        path = out / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", newline="\n")
        tmp.replace(path)
        written[name] = path
    return written
