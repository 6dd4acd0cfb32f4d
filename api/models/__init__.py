"""SQLAlchemy models; importing this package registers every table on the metadata."""

from api.models.bank import Question, QuestionTag, QuestionTopic, Tag, Topic
from api.models.users import RevokedSession, User

__all__ = ["Question", "QuestionTag", "QuestionTopic", "RevokedSession", "Tag", "Topic", "User"]
