package engagement

// MemoryStore is the single-node Store: everything in this process, lost on restart. It is the composition
// of one memory store per concept (pollMemory in poll_memory.go, …), each with its own lock, so that a
// burst of votes does not queue behind chat.
type MemoryStore struct {
	*streamMemory
	*chatMemory
	*likeMemory
	*scoreMemory
	*pollMemory
	*quizMemory
	*feedbackMemory
	*couponMemory
	*drawMemory
	*questionMemory
	*timelineMemory
	*notificationMemory
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		streamMemory:       newStreamMemory(),
		chatMemory:         newChatMemory(),
		likeMemory:         newLikeMemory(),
		scoreMemory:        newScoreMemory(),
		pollMemory:         newPollMemory(),
		quizMemory:         newQuizMemory(),
		feedbackMemory:     newFeedbackMemory(),
		couponMemory:       newCouponMemory(),
		drawMemory:         newDrawMemory(),
		questionMemory:     newQuestionMemory(),
		timelineMemory:     newTimelineMemory(),
		notificationMemory: newNotificationMemory(),
	}
}

// memKey is the map key of an item (poll, quiz, coupon, draw) of a stream.
func memKey(stream, id string) string { return stream + "\x00" + id }
