"""An invoice as a PDF (ReportLab), in the ISP's branding: its name, brand colour and address."""

from __future__ import annotations

import io
from html import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hierarchy.models import Operator
from ledger.billing.models import Invoice
from ledger.pricing import from_minor
from tenants.db import schema_current
from tenants.models import Tenant


def _color(value: str, fallback: str = "#0d6efd") -> colors.Color:
    try:
        return colors.HexColor(value or fallback)
    except ValueError:
        return colors.HexColor(fallback)


def invoice_pdf(*, invoice: Invoice) -> bytes:
    tenant = Tenant.objects.get(schema_name=schema_current())
    root = Operator.objects.filter(depth=0).first()
    brand = _color(tenant.brand_color)
    styles = getSampleStyleSheet()
    title = styles["Title"].clone("brand-title", textColor=brand, alignment=0)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            title=f"Invoice {invoice.number or invoice.pk}", author=tenant.name)
    customer = invoice.customer
    money = f" {invoice.currency}"
    story = [
        Paragraph(escape(tenant.name), title),
        Paragraph(escape((root.address if root else "") or ""), styles["Normal"]),
        Spacer(1, 6 * mm),
        Paragraph(f"<b>Invoice {invoice.number or '(draft)'}</b> — status: {invoice.get_status_display()}",
                  styles["Heading2"]),
        Paragraph(f"Issued {invoice.issue_date:%d %b %Y} · due {invoice.due_date:%d %b %Y} · period "
                  f"{invoice.period_start:%d %b %Y} - {invoice.period_end:%d %b %Y}", styles["Normal"]),
        Paragraph(escape(f"Bill to: {customer.full_name or customer.username} ({customer.username})"
                         + (f", {customer.address}" if customer.address else "")), styles["Normal"]),
        Spacer(1, 6 * mm),
    ]
    rows = [["Description", "Qty", "Unit price", "Discount", "Tax", "Total"]]
    for line in invoice.lines.all():
        rows.append([Paragraph(escape(line.description), styles["Normal"]), f"{line.quantity.normalize()}",
                     str(from_minor(line.unit_price)), str(from_minor(line.discount)),
                     f"{from_minor(line.tax)} ({line.tax_rate.normalize()} %)", str(from_minor(line.total))])
    rows += [
        ["", "", "", "", "Subtotal", str(from_minor(invoice.subtotal))],
        ["", "", "", "", "Discount", f"-{from_minor(invoice.discount)}"],
        ["", "", "", "", "Tax", str(from_minor(invoice.tax))],
        ["", "", "", "", "Total", str(from_minor(invoice.total)) + money],
        ["", "", "", "", "Paid / credited", str(from_minor(invoice.amount_paid + invoice.amount_credited))],
        ["", "", "", "", "Amount due", str(from_minor(invoice.outstanding)) + money],
    ]
    table = Table(rows, colWidths=[70 * mm, 14 * mm, 22 * mm, 20 * mm, 30 * mm, 24 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), brand),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, -7), 0.25, colors.grey),
        ("FONTNAME", (4, -3), (-1, -3), "Helvetica-Bold"),
        ("FONTNAME", (4, -1), (-1, -1), "Helvetica-Bold"),
    ]))
    story.append(table)
    if invoice.status == "void":
        story += [Spacer(1, 8 * mm), Paragraph("<font color='red' size='18'><b>VOID</b></font>", styles["Normal"])]
    doc.build(story)
    return out.getvalue()
