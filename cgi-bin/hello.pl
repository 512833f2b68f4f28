#!/usr/bin/perl
# hello.pl - the smallest Perl CGI: a tiny HTML page.
use strict;
use warnings;

my $method = $ENV{REQUEST_METHOD} // 'GET';
my $uri    = $ENV{REQUEST_URI}    // '';
$uri =~ s/&/&amp;/g; $uri =~ s/</&lt;/g; $uri =~ s/>/&gt;/g;

print "Content-Type: text/html; charset=utf-8\r\n\r\n";
print <<"HTML";
<!DOCTYPE html>
<html><head><title>Hello from Perl</title></head>
<body><h1>Hello from Perl</h1><p>$method $uri</p></body></html>
HTML
