import OspreyDaemon
import Testing

@Suite struct LifecycleTests {
    @Test func cleanStop() {
        var life = Lifecycle(shutdownBudget: .seconds(20))
        #expect(life.handle(.reloadRequested) == .none)
        #expect(life.handle(.ready) == .announceReady && life.state == .running)
        #expect(life.handle(.reloadRequested) == .reload && life.state == .running)
        #expect(life.handle(.stopRequested) == .beginDraining(budget: .seconds(20)))
        #expect(life.state == .draining)
        #expect(life.handle(.reloadRequested) == .none)
        #expect(life.handle(.ready) == .none)
        #expect(life.handle(.drained) == .exit(code: 0) && life.state == .stopped)
        #expect(life.handle(.stopRequested) == .none)
    }

    @Test func aSecondSignalOrASpentBudgetExitsAtOnce() {
        var twice = Lifecycle(shutdownBudget: .seconds(5))
        _ = twice.handle(.ready)
        _ = twice.handle(.stopRequested)
        #expect(twice.handle(.stopRequested) == .exit(code: 1))
        var slow = Lifecycle(shutdownBudget: .seconds(5))
        #expect(slow.handle(.stopRequested) == .beginDraining(budget: .seconds(5)))
        #expect(slow.handle(.budgetSpent) == .exit(code: 1))
        #expect(slow.handle(.drained) == .none)
    }

    @Test func fatalErrorsStopFromAnyState() {
        for events in [[], [Lifecycle.Event.ready], [.ready, .stopRequested]] {
            var life = Lifecycle(shutdownBudget: .seconds(1))
            for event in events { _ = life.handle(event) }
            #expect(life.handle(.fatal) == .exit(code: 70) && life.state == .stopped)
            #expect(life.handle(.fatal) == .none)
        }
    }
}
