"""Official warnings in: CAP 1.2 sources polled by the workers; an alert over the city becomes a draft campaign."""
