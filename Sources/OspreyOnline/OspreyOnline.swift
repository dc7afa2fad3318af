// The OspreyOnline module: learning while serving, from labels that arrive later.
//
// Layout:
//
// - Prequential/ quality per head over a sliding window of the most recent labels, each
//                label judged against the score given before it was known.
// - Join/        the label join: the feature vector kept at decision time, found again by
//                event id when the label comes (bounded, counted, serialisable), and the
//                self-labels that the stream itself implies (purchase, interest).
// - Training/    the replay buffer, fine-tuning of a candidate from the serving model, and
//                the guard that promotes a candidate only when it is not worse.
// - OnlineLearner ties them into one loop: score, keep, join, learn, promote.
// - Backtest/    the same loop driven from a file in event time (`osprey backtest`).
