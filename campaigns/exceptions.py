class CampaignError(ValueError):
    """Base of what can be wrong with a campaign request."""


class InvalidCampaign(CampaignError):
    pass


class CampaignNotFound(CampaignError):
    pass


class CampaignStateError(CampaignError):
    """The campaign is not in a state that allows this (e.g. sending a completed one)."""


class ApprovalForbidden(CampaignError):
    """The four-eyes rule: this user may not approve (their own campaign, or not an approver)."""


class InvalidHazard(InvalidCampaign):
    """The hazard point (where the danger is, recipients nearest it are sent first) cannot be used."""


class ExerciseTargetUnconfirmed(InvalidCampaign):
    """An exercise or test with neither a test group nor the second confirmation to reach the real target."""


class GroupNotFound(CampaignError):
    """No such contact group (or it was deleted)."""


class InvalidGroup(CampaignError):
    """A contact group request that cannot be saved (its name, a member's phone ...)."""


class TemplateNotFound(CampaignError):
    """No hazard template with that id (or none for that hazard)."""


class InvalidTemplate(CampaignError):
    """A hazard template (or the values filling one) that cannot be used: an unknown placeholder, a missing
    language, a bad CAP default; the message names it."""


class TemplateForbidden(CampaignError):
    """Only an admin or an approver may mark a template version pre-approved."""


class InvalidCallout(CampaignError):
    """A call-out request that cannot be sent (no groups, a deleted or empty group, an escalation time out of
    range ...); the message names the field."""


class CalloutNotFound(CampaignError):
    pass


class CalloutStateError(CampaignError):
    """The call-out is not in a state that allows this (resending or closing a closed one)."""
