// GenerationStream's write slot and the tokens a write may take along.
#include "server/engine/stream.h"

#include <vector>

#include <gtest/gtest.h>

namespace tinylm {
namespace {

StreamEvent Token(int64_t id) {
  StreamEvent event;
  event.token.id = id;
  event.token.index = id;
  return event;
}

StreamEvent Done() {
  StreamEvent event;
  event.kind = StreamEvent::Kind::kDone;
  return event;
}

TEST(GenerationStreamTest, AWriteTakesTheWaitingTokensUpToItsBound) {
  GenerationStream stream;
  for (int64_t id = 0; id < 5; ++id) stream.Push(Token(id));
  stream.Push(Done());

  StreamEvent first;
  ASSERT_TRUE(stream.TryBeginWrite(&first));
  EXPECT_EQ(first.token.id, 0);
  StreamEvent busy;
  EXPECT_FALSE(stream.TryBeginWrite(&busy)) << "one write at a time";
  std::vector<TokenEvent> more;
  stream.TakeMoreTokens(2, &more);
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].id, 1);
  EXPECT_EQ(more[1].id, 2);
  stream.EndWrite();

  // The rest stops at the summary, which goes in a write of its own.
  StreamEvent next;
  ASSERT_TRUE(stream.TryBeginWrite(&next));
  EXPECT_EQ(next.token.id, 3);
  more.clear();
  stream.TakeMoreTokens(10, &more);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].id, 4);
  stream.EndWrite();
  StreamEvent last;
  ASSERT_TRUE(stream.TryBeginWrite(&last));
  EXPECT_EQ(last.kind, StreamEvent::Kind::kDone);
  more.clear();
  stream.TakeMoreTokens(10, &more);
  EXPECT_TRUE(more.empty());
}

TEST(GenerationStreamTest, NoMoreTokensThanAsked) {
  GenerationStream stream;
  stream.Push(Token(0));
  stream.Push(Token(1));
  StreamEvent first;
  ASSERT_TRUE(stream.TryBeginWrite(&first));
  std::vector<TokenEvent> more;
  stream.TakeMoreTokens(0, &more);  // a message per token
  EXPECT_TRUE(more.empty());
  stream.EndWrite();
  StreamEvent second;
  ASSERT_TRUE(stream.TryBeginWrite(&second));
  EXPECT_EQ(second.token.id, 1);
}

}  // namespace
}  // namespace tinylm
