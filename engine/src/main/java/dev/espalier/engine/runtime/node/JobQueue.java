package dev.espalier.engine.runtime.node;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Jobs waiting for a slot, first in first out, at most {@code capacity} of them counting places reserved by
 * submissions still being written to disk. Jobs recovered at start-up are queued even beyond the capacity.
 */
final class JobQueue {
    private final int capacity;
    private final Deque<JobRecord> waiting = new ArrayDeque<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private int reserved;
    private boolean closed;

    JobQueue(int capacity) {
        this.capacity = capacity;
    }

    int capacity() {
        return capacity;
    }

    /** Reserves a place; returns how many jobs wait ahead of it, or -1 when the queue is full. */
    int tryReserve() {
        lock.lock();
        try {
            int ahead = waiting.size() + reserved;
            if (ahead >= capacity) {
                return -1;
            }
            reserved++;
            return ahead;
        } finally {
            lock.unlock();
        }
    }

    /** Gives back a place reserved by a submission that failed. */
    void release() {
        lock.lock();
        try {
            reserved--;
        } finally {
            lock.unlock();
        }
    }

    /** Queues a job in the place it reserved. */
    void putReserved(JobRecord job) {
        lock.lock();
        try {
            reserved--;
            waiting.addLast(job);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Queues a job recovered at start-up, whatever the capacity. */
    void putRecovered(JobRecord job) {
        lock.lock();
        try {
            waiting.addLast(job);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The next job, waiting for one; null once the queue is closed. */
    JobRecord take() throws InterruptedException {
        lock.lock();
        try {
            while (!closed && waiting.isEmpty()) {
                changed.await();
            }
            return closed ? null : waiting.pollFirst();
        } finally {
            lock.unlock();
        }
    }

    /** Removes a waiting job; false when it is no longer waiting (a slot took it). */
    boolean remove(JobRecord job) {
        lock.lock();
        try {
            return waiting.remove(job);
        } finally {
            lock.unlock();
        }
    }

    /** Wakes every {@link #take} with null; jobs still waiting stay QUEUED on disk. */
    void close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
