"""The look shared by every workbook we send out (templates, rejection lists, follow-up lists)."""

HEADER = {
    "bold": True,
    "bg_color": "#DDEBF7",
    "border": 1,
    "align": "center",
    "valign": "vcenter",
    "text_wrap": True,
}
