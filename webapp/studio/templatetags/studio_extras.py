from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """12 -> '12 s', 75 -> '1 min 15 s', None -> '—'."""
    try:
        seconds = int(round(float(seconds)))
    except (TypeError, ValueError):
        return "—"
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def percent(value) -> int:
    try:
        return int(round(max(0.0, min(1.0, float(value))) * 100))
    except (TypeError, ValueError):
        return 0
