using System;
using System.Collections.Concurrent;
using System.Threading;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Progress from the engine, written on the pipeline thread only. Created on the pipeline thread; a report from
    /// that thread is written at once (after anything queued), a report from another thread is queued until then.
    /// </summary>
    public sealed class PipelineProgress : IProgress<string>
    {
        private readonly Action<string> _write;
        private readonly int _pipelineThread = Thread.CurrentThread.ManagedThreadId;
        private readonly ConcurrentQueue<string> _pending = new ConcurrentQueue<string>();

        internal PipelineProgress(Action<string> write)
        {
            _write = write ?? throw new ArgumentNullException(nameof(write));
        }

        public void Report(string value)
        {
            if (Thread.CurrentThread.ManagedThreadId != _pipelineThread)
            {
                _pending.Enqueue(value);
                return;
            }
            Drain();
            _write(value);
        }

        /// <summary>Writes what other threads reported; call on the pipeline thread.</summary>
        public void Drain()
        {
            if (Thread.CurrentThread.ManagedThreadId != _pipelineThread) return;
            while (_pending.TryDequeue(out var message)) _write(message);
        }
    }
}
