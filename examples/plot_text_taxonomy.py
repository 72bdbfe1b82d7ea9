"""
=======================================
A text taxonomy: TF-IDF into the model
=======================================

Route support tickets to a department and, within it, to an issue type. The
text goes through :class:`~sklearn.feature_extraction.text.TfidfVectorizer`
straight into :class:`~mgclassifier.MultiGranularityClassifier`, with no
parameter changed: the sparse matrix is never densified, and it is not
standardised.

The tickets are made up here from short phrases (the package ships no text
corpus): each ticket mixes words of its issue, of its department, of a
neighbouring issue in the same department, and everyday words shared by all,
so the issues of one department are easy to confuse.
"""

# %%
# A two-level corpus
# ------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from mgclassifier import MultiGranularityClassifier
from mgclassifier.metrics import accuracy_per_level
from mgclassifier.plotting import LevelConfusionMatrixDisplay

TAXONOMY = {
    "billing": {
        "refund": "refund money back returned reimburse",
        "double charge": "charged twice duplicate payment two times",
        "invoice": "invoice receipt tax document vat",
    },
    "technical": {
        "login": "login password sign in locked out",
        "crash": "crash freezes closes error screen",
        "slow": "slow loading lag takes forever",
    },
    "shipping": {
        "late": "late delayed still waiting tracking",
        "damaged": "damaged broken box arrived cracked",
        "wrong item": "wrong item different size colour not ordered",
    },
    "account": {
        "delete": "delete close remove my account data",
        "email change": "change email address update contact",
        "subscription": "subscription plan cancel renew upgrade",
    },
}
DEPARTMENT_WORDS = {
    "billing": "card bank charge payment",
    "technical": "app website update version",
    "shipping": "parcel delivery courier order",
    "account": "profile settings account user",
}
COMMON = "hello please help thanks today issue problem again need asap still".split()

rng = np.random.default_rng(0)
tickets, labels = [], []
for department, issues in TAXONOMY.items():
    for issue, words in issues.items():
        siblings = [w for i, w in issues.items() if i != issue]
        elsewhere = [
            w for d, i in TAXONOMY.items() if d != department for w in i.values()
        ]
        for _ in range(150):
            words_of = [
                rng.choice(words.split(), rng.integers(1, 3)),  # the issue's own words
                rng.choice(DEPARTMENT_WORDS[department].split(), 1),
                rng.choice(COMMON, 4),
                # tickets mention a neighbouring issue, sometimes another department's
                rng.choice(rng.choice(siblings).split(), 1),
                rng.choice(rng.choice(elsewhere).split(), 1),
            ]
            tickets.append(" ".join(rng.permutation(np.concatenate(words_of))))
            labels.append([department, issue])
labels = np.array(labels)
print(len(tickets), "tickets, for example:", tickets[0], labels[0])

X_train, X_test, Y_train, Y_test = train_test_split(
    tickets, labels, test_size=0.3, random_state=0, stratify=labels[:, 1]
)

# %%
# The pipeline
# ------------
# A ``TfidfVectorizer`` gives a scipy sparse matrix; the classifier's first
# layer sums the weight rows of each ticket's words.
text_clf = make_pipeline(TfidfVectorizer(), MultiGranularityClassifier(random_state=0))
text_clf.fit(X_train, Y_train)
print(text_clf.predict(["my parcel arrived broken, box cracked", "cannot sign in"]))

# %%
# Against a linear model on the leaves
# ------------------------------------
# ``LogisticRegression`` on the same TF-IDF matrix learns the 12 issues; the
# department is read off the predicted issue.
flat = make_pipeline(TfidfVectorizer(), LogisticRegression(C=10))
flat.fit(X_train, Y_train[:, 1])
department_of = {issue: dep for dep, issue in labels}
flat_pred = np.array([[department_of[i], i] for i in flat.predict(X_test)])
for name, pred in [
    ("MultiGranularityClassifier", text_clf.predict(X_test)),
    ("LogisticRegression(C=10)", flat_pred),
]:
    department_acc, issue_acc = accuracy_per_level(Y_test, pred)
    print(f"{name:28s} department {department_acc:.3f}  issue {issue_acc:.3f}")

# %%
# Where the issues are confused
# -----------------------------
# The per-level confusion matrices take the fitted pipeline as they take the
# classifier: its own ``predict`` runs the vectoriser.
fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), width_ratios=[1, 2])
LevelConfusionMatrixDisplay.from_estimator(
    text_clf,
    X_test,
    Y_test,
    level=0,
    normalize="true",
    values_format=".2f",
    ax=axes[0],
    colorbar=False,
)
LevelConfusionMatrixDisplay.from_estimator(
    text_clf,
    X_test,
    Y_test,
    level=1,
    normalize="true",
    include_values=False,
    xticks_rotation="vertical",
    ax=axes[1],
)
fig.tight_layout()
