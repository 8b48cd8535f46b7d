"""Printable voucher sheets (ReportLab): a grid of cards, 3 x 8 on A4, each with the ISP's name in its
brand colour, the package, validity, price, serial number and the PIN (grouped in fours)."""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from config.crypto import secret_decrypt
from ledger.pricing import from_minor
from ledger.vouchers.models import Voucher, VoucherBatch
from ledger.vouchers.pins import pin_format

COLUMNS, ROWS = 3, 8
MARGIN = 10 * mm


def _colour(value: str) -> colors.Color:
    try:
        return colors.HexColor(value)
    except (ValueError, TypeError):
        return colors.HexColor("#0d6efd")


def validity_label(quantity: int, unit: str) -> str:
    word = unit.rstrip("s") if quantity == 1 else unit
    return f"{quantity} {word}"


def batch_sheet(*, batch: VoucherBatch, vouchers: Iterable[Voucher], isp_name: str, brand_color: str,
                currency: str) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=0)
    canvas.setTitle(f"{isp_name} vouchers, batch {batch.pk}")
    width, height = A4
    card_w = (width - 2 * MARGIN) / COLUMNS
    card_h = (height - 2 * MARGIN) / ROWS
    brand = _colour(brand_color)
    price = f"{from_minor(batch.face_price)} {currency}"
    validity = validity_label(batch.quantity, batch.unit)
    for index, voucher in enumerate(vouchers):
        slot = index % (COLUMNS * ROWS)
        if index and slot == 0:
            canvas.showPage()
        col, row = slot % COLUMNS, slot // COLUMNS
        x = MARGIN + col * card_w
        y = height - MARGIN - (row + 1) * card_h
        canvas.setStrokeColor(colors.grey)
        canvas.setDash(2, 2)
        canvas.rect(x, y, card_w, card_h)
        canvas.setDash()
        canvas.setFillColor(brand)
        canvas.rect(x, y + card_h - 8 * mm, card_w, 8 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(x + 3 * mm, y + card_h - 5.5 * mm, isp_name[:40])
        canvas.setFillColor(colors.black)
        canvas.setFont("Helvetica", 8)
        canvas.drawString(x + 3 * mm, y + card_h - 13 * mm, f"{batch.package.name[:30]} - {validity}")
        canvas.drawRightString(x + card_w - 3 * mm, y + card_h - 13 * mm, price)
        canvas.setFont("Courier-Bold", 12)
        canvas.drawCentredString(x + card_w / 2, y + card_h / 2 - 4 * mm,
                                 pin_format(secret_decrypt(voucher.pin_encrypted)))
        canvas.setFont("Helvetica", 6.5)
        canvas.drawString(x + 3 * mm, y + 2.5 * mm, f"Serial {voucher.serial}")
        canvas.drawRightString(x + card_w - 3 * mm, y + 2.5 * mm,
                               "PIN works once" if batch.valid_until is None else f"Use by {batch.valid_until}")
    canvas.showPage()
    canvas.save()
    return out.getvalue()
