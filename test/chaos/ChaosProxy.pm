# ChaosProxy.pm -- a loopback TCP proxy the chaos harness puts in front of
# each node, so that it can break the links between nodes while clients
# still reach every node directly.
#
#   my $proxy = ChaosProxy->start($target_port, $control_dir, $name);
#   $proxy->port;              # peers connect here instead
#   $proxy->set('pass');       # forward bytes both ways (the default)
#   $proxy->set('drop');       # close every connection, refuse new ones
#   $proxy->set('stall');      # keep connections, forward nothing
#   $proxy->set('delay:40');   # forward, each chunk held 40 ms
#   $proxy->stop;
#
# The proxy is a forked process; it reads its mode from a file in
# $control_dir every 20 ms (a file, not a pipe: it survives the harness
# being slow).  Only 127.0.0.1.
package ChaosProxy;

use strict;
use warnings;

use IO::Select;
use POSIX ();
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_REUSEADDR);
use Time::HiRes qw(sleep time);

sub start
{
	my ($class, $target_port, $dir, $name) = @_;
	my $listen = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => 0,
		Listen => 64,
		ReuseAddr => 1,
		Proto => 'tcp') or die "chaos proxy $name: cannot listen: $!";
	my $self = bless {
		name => $name,
		port => $listen->sockport,
		target => $target_port,
		control => "$dir/proxy-$name.mode",
	}, $class;
	$self->set('pass');
	my $pid = fork();
	die "chaos proxy $name: fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# _exit, not exit: the harness's END blocks (which stop and remove
		# the nodes) must run in the harness only
		eval { $self->_run($listen) };
		POSIX::_exit(0);
	}
	close $listen;
	$self->{pid} = $pid;
	return $self;
}

sub port { return $_[0]->{port}; }

sub set
{
	my ($self, $mode) = @_;
	open my $fh, '>', "$self->{control}.tmp" or die "chaos proxy: $!";
	print $fh $mode;
	close $fh;
	rename "$self->{control}.tmp", $self->{control} or die "chaos proxy: $!";
	$self->{mode} = $mode;
}

sub mode { return $_[0]->{mode}; }

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'TERM', $self->{pid};
	waitpid($self->{pid}, 0);
	delete $self->{pid};
}

sub DESTROY { $_[0]->stop if $_[0]->{pid}; }

# ---- the proxy process ----------------------------------------------------
sub _mode
{
	my ($self) = @_;
	open my $fh, '<', $self->{control} or return 'pass';
	my $m = <$fh> // 'pass';
	close $fh;
	return $m;
}

sub _run
{
	my ($self, $listen) = @_;
	my %peer;				# socket -> its other end
	my %held;				# socket -> [ [due, bytes], ... ] waiting to be written to it
	my $sel = IO::Select->new($listen);
	my $mode = 'pass';
	my $checked = 0;
	local $SIG{TERM} = sub { POSIX::_exit(0) };
	local $SIG{PIPE} = 'IGNORE';

	my $close_pair = sub {
		my ($s) = @_;
		my $o = delete $peer{$s};
		foreach my $x ($s, $o)
		{
			next unless $x;
			$sel->remove($x);
			delete $held{$x};
			delete $peer{$x};
			close $x;
		}
	};

	for (;;)
	{
		if (time - $checked > 0.02)
		{
			$mode = $self->_mode;
			$checked = time;
			if ($mode eq 'drop')
			{
				$close_pair->($_) foreach grep { $_ != $listen } $sel->handles;
			}
		}
		my $delay = $mode =~ /^delay:(\d+)/ ? $1 / 1000 : 0;

		# write out what is due
		foreach my $s (keys %held)
		{
			my ($sock) = grep { "$_" eq $s } $sel->handles;
			next unless $sock;
			while (@{ $held{$s} } && $held{$s}[0][0] <= time && $mode ne 'stall')
			{
				my $chunk = shift @{ $held{$s} };
				my ($off, $len, $ok) = (0, length($chunk->[1]), 1);
				while ($off < $len)
				{
					my $w = syswrite($sock, $chunk->[1], $len - $off, $off);
					unless (defined $w) { $ok = 0; last; }
					$off += $w;
				}
				unless ($ok) { $close_pair->($sock); last; }
			}
		}

		my @ready = $sel->can_read(0.01);
		foreach my $s (@ready)
		{
			if ($s == $listen)
			{
				my $c = $listen->accept or next;
				if ($mode eq 'drop')
				{
					close $c;
					next;
				}
				my $t = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{target}, Proto => 'tcp');
				unless ($t)
				{
					close $c;
					next;
				}
				$peer{$c} = $t;
				$peer{$t} = $c;
				$held{$c} = [];
				$held{$t} = [];
				$sel->add($c, $t);
				next;
			}
			next if $mode eq 'stall';	# leave the bytes in the kernel's buffers
			my $buf;
			my $n = sysread($s, $buf, 65536);
			if (!$n)
			{
				$close_pair->($s);
				next;
			}
			my $o = $peer{$s} or next;
			push @{ $held{$o} }, [ time + $delay, $buf ];
		}
		sleep(0.002) if $mode eq 'stall';
	}
}

1;
