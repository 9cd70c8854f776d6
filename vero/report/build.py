"""Assemble results/report/report.html from the outputs of evaluation and analysis.

The page is self-contained (images inlined as base64, the UMAP's plotly figure inlined) so it
can be mailed, attached to W&B or opened from a cluster's scratch without its neighbours.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from vero.categories import CATEGORY_NAMES, PAPER_REASONING_LENGTH

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass
class ReportInputs:
    comparison_csv: Path
    comparison_md: Path | None = None
    transfer_png: Path | None = None
    transfer_csv: Path | None = None
    reasoning_length_png: Path | None = None
    reasoning_length_csv: Path | None = None
    probe_json: Path | None = None
    probe_confusion_png: Path | None = None
    umap_png: Path | None = None
    umap_html: Path | None = None
    dynamics_pngs: list[Path] = field(default_factory=list)
    filter_report_md: Path | None = None
    analysis_summary_json: Path | None = None
    config: dict | None = None


def _img(path: Path | None, alt: str) -> str | None:
    if not path or not Path(path).exists():
        return None
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _read_csv(path: Path | None) -> tuple[list[str], list[list[str]]]:
    if not path or not Path(path).exists():
        return [], []
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return (rows[0], rows[1:]) if rows else ([], [])


def _fmt(cell: str) -> str:
    try:
        int(cell)
        return cell
    except ValueError:
        pass
    try:
        v = float(cell)
    except ValueError:
        return cell
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def _length_pivot(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Experiment × category mean words (n measured) from the long reasoning-length CSV."""
    if not {"experiment", "category", "mean_words", "n_measured"} <= set(header):
        return header, rows
    ix = {h: i for i, h in enumerate(header)}
    cats: list[str] = []
    table: dict[str, dict[str, str]] = {}
    for r in rows:
        exp, cat = r[ix["experiment"]], r[ix["category"]]
        if cat not in cats:
            cats.append(cat)
        mean = r[ix["mean_words"]]
        table.setdefault(exp, {})[cat] = f"{float(mean):.0f} (n={r[ix['n_measured']]})" if mean else "–"
    return ["experiment", *cats], [[exp, *(v.get(c, "–") for c in cats)] for exp, v in table.items()]


def _table_html(header: list[str], rows: list[list[str]], delta_cols: tuple[str, ...] = ()) -> str:
    if not header:
        return "<p><em>no rows</em></p>"
    out = [
        "<table>",
        "<thead><tr>",
        *[f"<th>{html.escape(h)}</th>" for h in header],
        "</tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        out.append("<tr>")
        for h, cell in zip(header, row, strict=False):
            cls = ""
            if h in delta_cols or h.startswith("delta") or h.startswith("Δ"):
                try:
                    cls = ' class="pos"' if float(cell) > 0 else (' class="neg"' if float(cell) < 0 else "")
                except ValueError:
                    cls = ""
            out.append(f"<td{cls}>{html.escape(_fmt(cell))}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return '<div class="scroll">' + "".join(out)


def _markdown_html(md: str) -> str:
    """The data filter report (data/filter_report.md) as HTML: its tables as tables, headings,
    bullet lists and paragraphs (all text escaped)."""
    out: list[str] = []
    table: list[list[str]] = []
    items: list[str] = []

    def flush() -> None:
        if table:
            out.append(_table_html(table[0], table[1:]))
            table.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in md.splitlines():
        text = line.strip()
        if text.startswith("|"):
            cells = [c.strip() for c in text.strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):  # not the header's separator row
                table.append(cells)
            continue
        if text.startswith("- "):
            items.append(text[2:])
            continue
        flush()
        if text.startswith("#"):
            level = min(4, 2 + len(text) - len(text.lstrip("#")))
            out.append(f"<h{level}>{html.escape(text.lstrip('#').strip())}</h{level}>")
        elif text:
            out.append(f"<p>{html.escape(text)}</p>")
    flush()
    return "\n".join(out)


def _ablation_section(comparison_md: Path | None) -> str | None:
    """The ablations part of eval/comparison.md (each ablation run vs the main run, overall, with
    the paper's difference beside it) as HTML; None when the file has no such section."""
    if not comparison_md or not Path(comparison_md).exists():
        return None
    text = Path(comparison_md).read_text()
    m = re.search(r"^## Ablations.*?(?=^## |^Notes:|\Z)", text, flags=re.S | re.M)
    return _markdown_html(m.group(0)) if m else None


def _demo_figures(inputs: ReportInputs) -> tuple[str | None, dict | None]:
    """The embedded demo's figures against their targets (vero.report.demo_figures) as a table."""
    from vero.report.demo_figures import demo_figures, figure_lines

    cfg = inputs.config or {}
    results = cfg.get("results_dir") or Path(inputs.comparison_csv).parent.parent
    fig = demo_figures(results, cfg)
    rows = [list(r) for r in figure_lines(fig)]
    if not rows:
        return None, fig
    return _table_html(["figure", "measured", "target", "met"], rows), fig


def _umap_fragment(path: Path | None) -> str | None:
    """The body of the plotly HTML (its div and script), so the figure lives inline in the report."""
    if not path or not Path(path).exists():
        return None
    text = Path(path).read_text()
    m = re.search(r"<body[^>]*>(.*)</body>", text, flags=re.S | re.I)
    return m.group(1) if m else text


def build_report(inputs: ReportInputs, out_path: str | Path, *, title: str = "Vero study report") -> Path:
    out_path = Path(out_path)
    header, rows = _read_csv(inputs.comparison_csv)
    t_header, t_rows = _read_csv(inputs.transfer_csv)
    rl_header, rl_rows = _length_pivot(*_read_csv(inputs.reasoning_length_csv))
    probe = json.loads(Path(inputs.probe_json).read_text()) if inputs.probe_json else None
    analysis_summary = (
        json.loads(Path(inputs.analysis_summary_json).read_text())
        if inputs.analysis_summary_json and Path(inputs.analysis_summary_json).exists()
        else None
    )
    filter_md = (
        Path(inputs.filter_report_md).read_text()
        if inputs.filter_report_md and Path(inputs.filter_report_md).exists()
        else None
    )
    paper_lengths = [
        [CATEGORY_NAMES[c], f"{m:.0f}", f"{s:.0f}"] for c, (m, s) in PAPER_REASONING_LENGTH.items()
    ]
    is_demo = (inputs.config or {}).get("model", {}).get("base") == "tiny"
    figures_table, figures = _demo_figures(inputs) if is_demo else (None, None)
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]))
    page = env.get_template("report.html.j2").render(
        title=title,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        model=(inputs.config or {}).get("model", {}),
        experiments=list((inputs.config or {}).get("experiments", {})),
        comparison_table=_table_html(header, rows),
        ablation_html=_ablation_section(inputs.comparison_md),
        figures_table=figures_table,
        figures=figures,
        transfer_img=_img(inputs.transfer_png, "transfer heatmap"),
        transfer_table=_table_html(t_header, t_rows) if t_header else None,
        length_img=_img(inputs.reasoning_length_png, "reasoning length per category"),
        length_table=_table_html(rl_header, rl_rows) if rl_header else None,
        paper_lengths=_table_html(["category", "paper mean (words)", "SEM"], paper_lengths),
        probe=probe,
        probe_img=_img(inputs.probe_confusion_png, "probe confusion matrix"),
        umap_img=_img(inputs.umap_png, "UMAP of skills"),
        umap_fragment=_umap_fragment(inputs.umap_html),
        dynamics_imgs=[(Path(p).stem, _img(Path(p), Path(p).stem)) for p in inputs.dynamics_pngs],
        filter_html=_markdown_html(filter_md) if filter_md else None,
        analysis_summary=analysis_summary,
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page)
    return out_path
