"""SQLAlchemy models; importing this package registers every table on the metadata."""

from api.models.bank import Question, QuestionTag, QuestionTopic, Tag, Topic

__all__ = ["Question", "QuestionTag", "QuestionTopic", "Tag", "Topic"]
