"""foundation_model: multi-task materials property prediction."""
