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


@register.filter
def finetuning(params) -> str:
    """A job's parameters (the API's ``params``) in words: '400 fine-tuning steps · 20 dreamed frames · snapped';
    '' when there are none."""
    if not isinstance(params, dict):
        return ""
    parts = []
    if params.get("iterations"):
        parts.append(f"{params['iterations']} fine-tuning steps")
    if params.get("budget"):
        parts.append(f"at most {params['budget']:g} s of fine-tuning")
    if params.get("dreams"):
        parts.append(f"{params['dreams']} dreamed frames")
    if params.get("snap"):
        parts.append("snapped to contours")
    return " · ".join(parts)
