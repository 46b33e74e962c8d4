"""The project file and rules, loaded into validated, typed specs."""

from mdm.config.load import PROJECT_FILE, load_project
from mdm.config.match_spec import MatchMethod, MatchRuleSpec, MatchSpec
from mdm.config.specs import LoadMode, Project, ProjectSpec, RuleSet, SourceFormat, SourceSpec
from mdm.config.survivorship_spec import SurvivorshipRule, SurvivorshipSpec

__all__ = [
    "PROJECT_FILE",
    "LoadMode",
    "MatchMethod",
    "MatchRuleSpec",
    "MatchSpec",
    "Project",
    "ProjectSpec",
    "RuleSet",
    "SourceFormat",
    "SourceSpec",
    "SurvivorshipRule",
    "SurvivorshipSpec",
    "load_project",
]
