"""The printable certificate: A4 landscape, Chinese text in the CID font STSong-Light (built
into every PDF reader, nothing embedded), and a QR code of the public verification URL that is
also a clickable link.

Rendering is CPU work: callers run it in a worker thread, off the event loop.
"""

from __future__ import annotations

from io import BytesIO

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from shared.models.judging import Certificate

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def grouped(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def render(certificate: Certificate, verify_url: str) -> bytes:
    buffer = BytesIO()
    width, height = landscape(A4)
    canvas = Canvas(buffer, pagesize=(width, height))
    canvas.setTitle(f"荣誉证书 {grouped(certificate.code)}")
    canvas.setAuthor("山东省职业技能竞赛")
    canvas.setStrokeColor(colors.HexColor("#b8860b"))
    canvas.setLineWidth(3)
    canvas.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)

    canvas.setFillColor(colors.HexColor("#a00000"))
    canvas.setFont(FONT, 40)
    canvas.drawCentredString(width / 2, height - 50 * mm, "荣誉证书")
    canvas.setFillColor(colors.black)
    canvas.setFont(FONT, 22)
    canvas.drawCentredString(width / 2, height - 75 * mm, f"{certificate.worker_name} 同志：")
    canvas.setFont(FONT, 16)
    lines = [
        f"在{certificate.competition_name}",
        f"{certificate.event_name} {certificate.stage_name}中",
        f"荣获 {certificate.award_title}",
        "特发此证，以资鼓励。",
    ]
    for i, line in enumerate(lines):
        canvas.drawCentredString(width / 2, height - (95 + 12 * i) * mm, line)
    canvas.setFont(FONT, 12)
    canvas.drawRightString(
        width - 30 * mm, 35 * mm, f"颁发日期：{certificate.issued_on.isoformat()}"
    )
    canvas.drawString(30 * mm, 26 * mm, f"验证码：{grouped(certificate.code)}")
    canvas.setFont("Helvetica", 7)
    canvas.drawString(30 * mm, 20 * mm, verify_url)

    size = 32 * mm
    widget = QrCodeWidget(verify_url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    qr_x, qr_y = 30 * mm, 32 * mm
    renderPDF.draw(drawing, canvas, qr_x, qr_y)
    canvas.linkURL(verify_url, (qr_x, qr_y, qr_x + size, qr_y + size), relative=0)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
