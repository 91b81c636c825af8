"""What support leads learn from: knowledge-base answers, ratings and unanswered questions."""
