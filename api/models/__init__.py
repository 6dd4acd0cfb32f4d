"""SQLAlchemy models; importing this package registers every table on the metadata."""

from api.models.bank import BankVersion, Question, QuestionTag, QuestionTopic, Tag, Topic
from api.models.practice import Attempt, IdempotencyRecord, Quiz, QuizQuestion, ReviewState
from api.models.users import RevokedSession, User

__all__ = [
    "Attempt",
    "BankVersion",
    "IdempotencyRecord",
    "Question",
    "QuestionTag",
    "QuestionTopic",
    "Quiz",
    "QuizQuestion",
    "RevokedSession",
    "ReviewState",
    "Tag",
    "Topic",
    "User",
]
